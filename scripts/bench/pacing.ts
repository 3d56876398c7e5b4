/**
 * Pacing against a fake SES over real HTTP, in real time: `npm run bench -- pacing`.
 *
 * 600 SendEmail calls through the real SESv2 client (createSesClient) to the fake SES of
 * scripts/fakes/ses.ts answering after 20-150 ms (uniform), paced by createPacer as the send loop
 * uses it: adaptive places up to the loop's ceiling (one second of sending, at least 4), a place
 * held from before the slot until the answer, every retry on a slot of its own (`again()`).
 * At 6/s (RATE_LIMIT_PER_SEC's default; ~100 s) and at 50/s (~12 s).
 *
 * Figures: achieved / configured rate over the run ((n − 1) / (last start − first start)), goal
 * ≥ 0.98; the busiest one-second window of send starts, goal ≤ the rate; and, for information,
 * the busiest window as the server saw the requests arrive (network jitter can shift an
 * arrival by a millisecond or two, so it may read one above the rate); the throttled answers
 * from the fake, whose account advertises and enforces the rate, goal 0.
 */
import { SendEmailCommand } from '@aws-sdk/client-sesv2';
import { createSesClient } from '../../lib/ses/client';
import { concurrencyCeiling } from '../../lib/send/loop';
import { createPacer } from '../../lib/ses/pacer';
import { sendWithRetry } from '../../lib/ses/retry';
import { startFakeSes } from '../fakes/ses';
import type { Figure } from '../bench';
import { busiestWindow } from '../lib/window';

const SENDS = 600;

function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
}

async function scenario(rate: number): Promise<Figure[]> {
  // The account advertises the rate the pacer is given, and the fake enforces it.
  const ses = await startFakeSes({ latencyMs: [20, 150], account: { SendQuota: { MaxSendRate: rate, Max24HourSend: -1 } } });
  const client = createSesClient({ aws: { region: 'eu-west-1', endpoint: ses.url } });
  const ceiling = concurrencyCeiling(undefined, rate);
  const pacer = createPacer({ ratePerSec: rate, maxConcurrency: ceiling });
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
      const place = await pacer.place();
      try {
        let attempt = 0;
        await sendWithRetry(
          async () => {
            const permit = attempt++ > 0 ? await place.again() : await place.start();
            starts.push(permit.startedAt);
            lateness.push(permit.startedAt - permit.slot);
            return client.send(command);
          },
          { onRetry: ({ error }) => void (error.throttled && pacer.slowDown()) },
        );
        pacer.recordSuccess();
      } catch {
        failures += 1;
        pacer.recordFailure();
      } finally {
        place.release();
      }
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: ceiling }, worker));
  const wallS = (performance.now() - t0) / 1000;
  client.destroy();
  await ses.close();

  const achieved = ((starts.length - 1) * 1000) / (starts[starts.length - 1]! - starts[0]!);
  const ratio = achieved / rate;
  const clientBusiest = busiestWindow(starts);
  const serverBusiest = busiestWindow(ses.calls.map((c) => c.receivedAt));
  const throttled = ses.calls.filter((c) => c.outcome.status === 429).length;
  const label = `${rate}/s, at most ${ceiling} places, ${SENDS} sends, 20-150 ms latency`;
  return [
    { name: `achieved / configured rate (${label})`, value: ratio, unit: '', goal: '>= 0.98', ok: ratio >= 0.98, note: `${achieved.toFixed(2)}/s, ${wallS.toFixed(1)} s` },
    { name: `busiest 1 s window of send starts (${rate}/s, places ≤ ${ceiling})`, value: clientBusiest, unit: 'sends', goal: `<= ${rate}`, ok: clientBusiest <= rate },
    { name: `busiest 1 s window of arrivals at SES (${rate}/s, places ≤ ${ceiling})`, value: serverBusiest, unit: 'sends', note: 'information: includes network jitter' },
    { name: `start lateness vs slot, p99 (${rate}/s, places ≤ ${ceiling})`, value: percentile(lateness, 99), unit: 'ms' },
    { name: `failed sends (${rate}/s, places ≤ ${ceiling})`, value: failures, unit: '', goal: '= 0', ok: failures === 0 },
    { name: `throttled answers from an account of ${rate}/s (${rate}/s, places ≤ ${ceiling})`, value: throttled, unit: '', goal: '= 0', ok: throttled === 0 },
  ];
}

export async function run(): Promise<Figure[]> {
  return [...(await scenario(6)), ...(await scenario(50))];
}
