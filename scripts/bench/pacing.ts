/**
 * Pacing against a fake SES over real HTTP, in real time: `npm run bench -- pacing`.
 *
 * 600 SendEmail calls through the real SESv2 client (createSesClient → sendWithRetry) to the
 * fake SES of tests/fakes/ses.ts answering after 20-150 ms (uniform), paced by createPacer:
 * at 6/s with concurrency 1 (the defaults; ~100 s) and at 50/s with concurrency 8 (~12 s).
 *
 * Figures: achieved / configured rate over the run ((n − 1) / (last start − first start)), goal
 * ≥ 0.98; the busiest one-second window of send starts, goal ≤ the rate; and, for information,
 * the busiest window as the server saw the requests arrive (network jitter can shift an
 * arrival by a millisecond or two, so it may read one above the rate).
 */
import { SendEmailCommand } from '@aws-sdk/client-sesv2';
import { createSesClient } from '../../lib/ses/client';
import { createPacer } from '../../lib/ses/pacer';
import { sendWithRetry } from '../../lib/ses/retry';
import { startFakeSes } from '../../tests/fakes/ses';
import type { Figure } from '../bench';
import { busiestWindow } from '../lib/window';

const SENDS = 600;

function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
}

async function scenario(rate: number, concurrency: number): Promise<Figure[]> {
  const ses = await startFakeSes({ latencyMs: [20, 150] });
  const client = createSesClient({ aws: { region: 'eu-west-1', endpoint: ses.url } });
  const pacer = createPacer({ ratePerSec: rate, concurrency });
  const starts: number[] = [];
  const lateness: number[] = [];
  let next = 0;
  let failures = 0;
  const worker = async () => {
    while (next < SENDS) {
      const i = next++;
      const command = new SendEmailCommand({
        FromEmailAddress: 'news@example.com',
        Destination: { ToAddresses: [`reader-${i}@example.com`] },
        EmailTags: [{ Name: 'mailout', Value: 'bench' }],
        Content: { Simple: { Subject: { Data: 'Bench' }, Body: { Text: { Data: 'Hello' }, Html: { Data: '<p>Hello</p>' } } } },
      });
      try {
        // As the send engine composes them: every attempt takes a slot; back-off holds no place.
        await sendWithRetry(
          async () => {
            const permit = await pacer.acquire();
            starts.push(permit.startedAt);
            lateness.push(permit.startedAt - permit.slot);
            try {
              return await client.send(command);
            } finally {
              permit.release();
            }
          },
          { onRetry: ({ error }) => void (error.throttled && pacer.slowDown()) },
        );
        pacer.recordSuccess();
      } catch {
        failures += 1;
      }
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const wallS = (performance.now() - t0) / 1000;
  client.destroy();
  await ses.close();

  const achieved = ((starts.length - 1) * 1000) / (starts[starts.length - 1]! - starts[0]!);
  const ratio = achieved / rate;
  const clientBusiest = busiestWindow(starts);
  const serverBusiest = busiestWindow(ses.calls.map((c) => c.receivedAt));
  const label = `${rate}/s, concurrency ${concurrency}, ${SENDS} sends, 20-150 ms latency`;
  return [
    { name: `achieved / configured rate (${label})`, value: ratio, unit: '', goal: '>= 0.98', ok: ratio >= 0.98, note: `${achieved.toFixed(2)}/s, ${wallS.toFixed(1)} s` },
    { name: `busiest 1 s window of send starts (${rate}/s, c=${concurrency})`, value: clientBusiest, unit: 'sends', goal: `<= ${rate}`, ok: clientBusiest <= rate },
    { name: `busiest 1 s window of arrivals at SES (${rate}/s, c=${concurrency})`, value: serverBusiest, unit: 'sends', note: 'information: includes network jitter' },
    { name: `start lateness vs slot, p99 (${rate}/s, c=${concurrency})`, value: percentile(lateness, 99), unit: 'ms' },
    { name: `failed sends (${rate}/s, c=${concurrency})`, value: failures, unit: '', goal: '= 0', ok: failures === 0 },
  ];
}

export async function run(): Promise<Figure[]> {
  return [...(await scenario(6, 1)), ...(await scenario(50, 8))];
}
