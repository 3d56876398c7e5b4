import { createLedger } from '../../lib/db/ledger';
import { createPostgresDb } from '../../lib/db/postgres';
import { createTestDatabase, seedSubscribers, type TestDatabase, STORED_LETTER } from '../helpers/db';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  await seedSubscribers(t.pool, 10_000);
});
afterAll(async () => {
  await t.drop();
});

test('4 concurrent workers on separate connections drain 10,000 deliveries: each handed out and recorded exactly once', async () => {
  const claim = await t.ledger.claim('10b7bdec-f4a9-80f0-884a-586fb8fc0c88', { leaseSeconds: 120, content: STORED_LETTER });
  expect(claim.recipients).toBe(10_000);
  const token = claim.leaseToken!;
  const handedOut: string[][] = [[], [], [], []];

  await Promise.all(
    handedOut.map(async (mine, w) => {
      // Each worker has its own pool: separate connections, as separate invocations would.
      const db = createPostgresDb(t.url, { max: 1 });
      try {
        for (;;) {
          const batch = await createLedger(db).run({ mailoutId: '10b7bdec-f4a9-80f0-884a-586fb8fc0c88', leaseToken: token, leaseSeconds: 120 }).claimBatch({ limit: 50 });
          if (batch.length === 0) break;
          mine.push(...batch.map((b) => b.subscriberId));
          // Every 7th recipient fails, to exercise both outcomes.
          await createLedger(db).run({ mailoutId: '10b7bdec-f4a9-80f0-884a-586fb8fc0c88', leaseToken: token, leaseSeconds: 60 }).record(batch.map((b, i) =>
              i % 7 === 0
                ? { subscriberId: b.subscriberId, status: 'failed' as const, errorCode: 'MessageRejected', errorMessage: `w${w}` }
                : { subscriberId: b.subscriberId, status: 'sent' as const, sesMessageId: `m-${b.subscriberId}` },
            ));
        }
      } finally {
        await db.close();
      }
    }),
  );

  const all = handedOut.flat();
  expect(all).toHaveLength(10_000);
  expect(new Set(all).size).toBe(10_000);
  // The work was really shared.
  for (const mine of handedOut) expect(mine.length).toBeGreaterThan(500);

  const { rows } = await t.pool.query(
    `select status, count(*)::int as n, min(attempts) as min_attempts, max(attempts) as max_attempts
       from deliveries where mailout_id = '10b7bdec-f4a9-80f0-884a-586fb8fc0c88' group by status order by status`,
  );
  const byStatus = Object.fromEntries(rows.map((r) => [r.status, r]));
  expect(Object.keys(byStatus).sort()).toEqual(['failed', 'sent']);
  expect(byStatus.sent.n + byStatus.failed.n).toBe(10_000);
  expect(rows.every((r) => r.min_attempts === 1 && r.max_attempts === 1)).toBe(true);

  const fin = await t.ledger.run({ mailoutId: '10b7bdec-f4a9-80f0-884a-586fb8fc0c88', leaseToken: token, leaseSeconds: 60 }).finish({ outcome: 'complete' });
  expect(fin).toMatchObject({ status: 'sent', recipients: 10_000, sent: byStatus.sent.n, failed: byStatus.failed.n, queued: 0 });
});
