import { startMailout, type SendDeps } from '../../lib/send';
import { createPostgresDb } from '../../lib/db/postgres';
import { mailoutIdFromName } from '../../lib/mailout-id';
import { startLatencyProxy, throughProxy, type LatencyProxy } from '../../scripts/lib/latency-proxy';
import type { FakeSes } from '../../scripts/fakes/ses';
import { seedSubscribers, type TestDatabase } from '../helpers/db';
import { sendDeps, sendTestBed, testConfig } from './helpers';

/**
 * Issue 26's chaos run, made deterministic: a run's send_trip answer (its marks) is held on the way back
 * (the transaction committed, the run hears of it late), the lease passes, a fresh run takes
 * the mailout over and finishes it; then the stuck run gets its answer. Real Postgres behind
 * the project's latency proxy, the fake SES over HTTP.
 */
const bed = sendTestBed();
let t: TestDatabase;
let ses: FakeSes;
let proxy: LatencyProxy;
beforeAll(async () => {
  ({ t, ses } = bed);
  const u = new URL(t.url);
  proxy = await startLatencyProxy({ host: u.hostname, port: Number(u.port) }, 0);
});
afterAll(async () => {
  await proxy.close();
});

/** The mailout's counts as stored and as the ledger has them. */
async function countsAndLedger(t: TestDatabase, id: string) {
  const stored = (
    await t.pool.query(`select recipients, sent, failed, skipped, unknown from mailouts where id = $1`, [id])
  ).rows[0];
  const counted = (await t.pool.query(`select * from mailout_counts($1)`, [id])).rows[0];
  const ledger = (
    await t.pool.query(
      `select count(*)::int recipients,
              count(*) filter (where status = 'sent')::int sent, count(*) filter (where status = 'failed')::int failed,
              count(*) filter (where status = 'skipped')::int skipped, count(*) filter (where status = 'unknown')::int unknown,
              count(*) filter (where status = 'queued')::int queued, count(*) filter (where status = 'sending')::int sending
         from deliveries where mailout_id = $1`,
      [id],
    )
  ).rows[0];
  const { queued, sending, ...finished } = ledger;
  return { stored, counted, ledger, finished, queuedAndSending: { queued, sending } };
}

test('a run whose mark is answered after its lease passed sends nothing after the takeover, and the counts stay the ledger’s', async () => {
  const id = mailoutIdFromName('lease-held-answer');
  await seedSubscribers(t.pool, 200);
  const config = testConfig(t, ses.url, { SEND_CONCURRENCY: '8', RATE_LIMIT_PER_SEC: '200', LEASE_SECONDS: '30' });
  // The stuck run's clock: it moves with real time, and jumps when the test lets time pass for it.
  let skew = 0;
  const stuckDb = createPostgresDb(throughProxy(t.url, proxy), { max: 4 });
  const stuckDeps: SendDeps = sendDeps(config, t, { db: stuckDb, now: () => Date.now() + skew });
  const stuck = startMailout(stuckDeps, { mailoutId: id, fromNotion: false, dryRun: false, continuation: false }).then((r) => r.run!());

  await ses.whenCalls(20);
  const answer = proxy.holdAnswerTo('send_trip');
  await answer.held; // the marks are committed; the run has not heard so yet

  // The lease passes; the cron's fresh run takes over, settles the stuck run's marks `unknown`, sends the rest, finishes.
  await t.pool.query(`update mailouts set lease_until = now() - interval '1 second' where id = $1`, [id]);
  const takeover = await (await startMailout(sendDeps(config, t), { mailoutId: id, fromNotion: false, dryRun: false, continuation: false })).run!();
  expect(takeover.final?.status).toBe('sent');
  const callsAtTakeover = ses.calls.length;
  const afterTakeover = await countsAndLedger(t, id);

  // The stuck run hears back 40 s late by its own clock.
  skew += 40_000;
  answer.release();
  const late = await stuck;
  await stuckDb.close();

  expect(late.outcome).toBe('lease_lost');
  expect(ses.calls.length).toBe(callsAtTakeover);
  const to = ses.calls.map((c) => c.to[0]!);
  expect(new Set(to).size).toBe(to.length);
  const end = await countsAndLedger(t, id);
  expect(end).toEqual(afterTakeover);
  expect(end.stored).toEqual(end.finished);
  expect(end.counted).toMatchObject(end.finished);
  expect(end.finished.sent + end.finished.unknown).toBe(200);
  // The marks whose answer was held never reached SES: unknown, for resend-unknown to find.
  const { rows: unknown } = await t.pool.query<{ email: string }>(`select email from deliveries where mailout_id = $1 and status = 'unknown'`, [id]);
  expect(unknown.filter((r) => !to.includes(r.email)).length).toBeGreaterThan(0);
  expect((await t.pool.query(`select status from mailouts where id = $1`, [id])).rows[0].status).toBe('sent');
}, 60_000);
