import type { Db } from '../../lib/db';
import { startMailout } from '../../lib/send';
import { startFakeSes, type FakeSes } from '../../scripts/fakes/ses';
import { createTestDatabase, seedSubscribers, type TestDatabase } from '../helpers/db';
import { sendDeps, testConfig } from './helpers';

/**
 * Issue 17: no concurrency to tune. With SEND_CONCURRENCY unset the sender holds as many
 * messages in flight as the rate and the latencies need (Little's law, see lib/ses/pacer.ts),
 * within a ceiling of one second of sending that bounds what a crash leaves `unknown`.
 * (The pace itself, in time, is checked in virtual time in tests/ses/pacer.test.ts and
 * measured by `npm run bench -- pace`.)
 */
let t: TestDatabase;
let ses: FakeSes;
beforeAll(async () => {
  t = await createTestDatabase();
  ses = await startFakeSes({ latencyMs: 100, account: { SendQuota: { Max24HourSend: -1, MaxSendRate: 5000 } } });
});
afterAll(async () => {
  await ses.close();
  await t.drop();
});
beforeEach(async () => {
  ses.reset();
  await t.pool.query('truncate subscribers, mailouts, deliveries, test_sends, ses_events cascade');
});

/** The database a few ms further away, as on a deploy. */
function slowDb(db: Db, ms: number): Db {
  return { ...db, rpc: async (fn, args) => (await new Promise((r) => setTimeout(r, ms)), db.rpc(fn, args)) };
}

async function statuses(mailoutId: string): Promise<Record<string, number>> {
  const { rows } = await t.pool.query(`select status, count(*)::int n from deliveries where mailout_id = $1 group by status`, [mailoutId]);
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

test('with SEND_CONCURRENCY unset, several messages go at once when SES and the database are slow, within one second of sending', async () => {
  await seedSubscribers(t.pool, 200);
  const mailoutId = '17171717-2222-4333-8444-555555555555';
  const config = testConfig(t, ses.url, { RATE_LIMIT_PER_SEC: '50' });
  expect(config.sending.concurrency).toBeUndefined();
  const res = await startMailout(sendDeps(config, t, { db: slowDb(t.db, 20) }), { mailoutId, fromNotion: false, dryRun: false, continuation: false });
  const summary = await res.run!();
  expect(summary).toMatchObject({ outcome: 'complete', sent: 200, failed: 0, unknown: 0 });
  expect(summary.maxConcurrency).toBe(50); // one second at 50/s
  // SES alone takes 100 ms, the mark and the outcome 20 ms each: one at a time could not keep 50/s.
  expect(summary.peakConcurrency).toBeGreaterThan(5);
  expect(summary.peakConcurrency).toBeLessThanOrEqual(50);
  expect(summary.peakUnrecorded).toBeGreaterThan(1);
  expect(summary.peakUnrecorded).toBeLessThanOrEqual(summary.maxConcurrency);
  expect(await statuses(mailoutId)).toEqual({ sent: 200 });
  expect(new Set(ses.sent.map((c) => c.to[0])).size).toBe(200);
  expect(ses.callCount).toBe(200);
});

test('SEND_CONCURRENCY, when set, is the ceiling: never more in flight, never more marked and not recorded', async () => {
  await seedSubscribers(t.pool, 120);
  const mailoutId = '17171717-3333-4333-8444-555555555555';
  const config = testConfig(t, ses.url, { RATE_LIMIT_PER_SEC: '200', SEND_CONCURRENCY: '3' });
  const res = await startMailout(sendDeps(config, t, { db: slowDb(t.db, 20) }), { mailoutId, fromNotion: false, dryRun: false, continuation: false });
  const summary = await res.run!();
  expect(summary).toMatchObject({ outcome: 'complete', sent: 120, maxConcurrency: 3 });
  expect(summary.peakConcurrency).toBe(3);
  expect(summary.peakUnrecorded).toBeLessThanOrEqual(3);
  expect(await statuses(mailoutId)).toEqual({ sent: 120 });
});

test('a ceiling of at least 4 at a low rate: 2/s may still have a slow SES answer and a mark in flight', async () => {
  await seedSubscribers(t.pool, 6);
  const mailoutId = '17171717-4444-4333-8444-555555555555';
  const config = testConfig(t, ses.url, { RATE_LIMIT_PER_SEC: '2' });
  const res = await startMailout(sendDeps(config, t), { mailoutId, fromNotion: false, dryRun: false, continuation: false });
  const summary = await res.run!();
  expect(summary).toMatchObject({ outcome: 'complete', sent: 6, maxConcurrency: 4 });
});
