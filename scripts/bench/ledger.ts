/** The exactly-once core: time to claim a large list, and ledger throughput with 4 workers (SES not involved). */
import { createLedger } from '../../lib/db/ledger';
import { createPostgresDb } from '../../lib/db/postgres';
import type { Figure } from '../bench';
import { seedBenchSubscribers, withBenchDatabase } from '../lib/bench-db';
import { mailoutIdFromName } from '../../lib/mailout-id';

const MAILOUT = mailoutIdFromName('bench-claim');

export async function run(): Promise<Figure[]> {
  return withBenchDatabase(async (url) => {
    const figures: Figure[] = [];
    await seedBenchSubscribers(url, 100_000);
    const db = createPostgresDb(url);

    const t0 = performance.now();
    const claim = await createLedger(db).claim(MAILOUT, { leaseSeconds: 600, content: { subject: 'Bench' } });
    const claimMs = performance.now() - t0;
    figures.push({
      name: `claim_mailout, ${claim.recipients.toLocaleString('en')} active subscribers`,
      value: Math.round(claimMs),
      unit: 'ms',
      goal: '< 2000 ms',
      ok: claimMs < 2000,
    });

    const token = claim.leaseToken!;
    const batchSize = 50;
    const t1 = performance.now();
    let processed = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        const w = createPostgresDb(url, { max: 1 });
        const worker = createLedger(w).run({ mailoutId: MAILOUT, leaseToken: token, leaseSeconds: 600 });
        try {
          for (;;) {
            const batch = await worker.claimBatch({ limit: batchSize });
            if (batch.length === 0) break;
            await worker.record(batch.map((b) => ({ subscriberId: b.subscriberId, status: 'sent' as const, sesMessageId: `m-${b.subscriberId}` })));
            processed += batch.length;
          }
        } finally {
          await w.close();
        }
      }),
    );
    const seconds = (performance.now() - t1) / 1000;
    const rate = processed / seconds;
    figures.push({
      name: `ledger throughput, 4 workers, batches of ${batchSize} (claim_batch + record_results)`,
      value: Math.round(rate),
      unit: 'deliveries/s',
      goal: '>= 5000/s',
      ok: rate >= 5000,
      note: `${processed.toLocaleString('en')} in ${seconds.toFixed(1)} s`,
    });
    await db.close();
    return figures;
  });
}
