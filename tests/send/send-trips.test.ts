import type { Db } from '../../lib/db';
import { startMailout, type SendDeps } from '../../lib/send';
import { mailoutIdFromName } from '../../lib/mailout-id';
import { seedSubscribers } from '../helpers/db';
import { sendDeps, testConfig, useSendTestBed } from './helpers';

/**
 * Issue 24: the send loop writes the ledger in trips (send_trip: the outcomes handed in and
 * the next marks in one call, marks made ahead within the ceiling). Round trips are counted
 * by SQL function through a counting Db, never timed. Real Postgres, the fake SES over HTTP.
 */
const bed = useSendTestBed();

/** The send loop's calls, by SQL function. */
const LOOP_CALLS = ['claim_batch', 'send_trip', 'begin_sends', 'record_results', 'mailout_feedback_stats', 'mailout_counts', 'finish_mailout'];

function countingDb(db: Db, before?: (fn: string, n: number) => Promise<void>): Db & { calls: Record<string, number> } {
  const calls: Record<string, number> = {};
  return {
    ...db,
    calls,
    rpc: async (fn, args) => {
      calls[fn] = (calls[fn] ?? 0) + 1;
      await before?.(fn, calls[fn]);
      return db.rpc(fn, args);
    },
  };
}

async function run(id: string, deps: SendDeps) {
  const res = await startMailout(deps, { mailoutId: id, fromNotion: false, dryRun: false, continuation: false });
  return res.run!();
}

async function ledger(id: string) {
  const { rows } = await bed.t.pool.query(
    `select count(*) filter (where status = 'sent')::int sent, count(*) filter (where status = 'queued')::int queued,
            count(*) filter (where status = 'sending' and attempted_at is not null)::int marked_unsent,
            count(*) filter (where status not in ('sent', 'queued'))::int other
       from deliveries where mailout_id = $1`,
    [id],
  );
  return rows[0] as { sent: number; queued: number; marked_unsent: number; other: number };
}

test('at 50/s the loop makes at most 0.1 database round trips per recipient, within its ceiling of marked and not recorded', async () => {
  const n = 250;
  await seedSubscribers(bed.t.pool, n);
  bed.ses.setLatency(20);
  const db = countingDb(bed.t.db);
  const id = mailoutIdFromName('trips-at-50');
  const summary = await run(id, sendDeps(testConfig(bed.t, bed.ses.url, { RATE_LIMIT_PER_SEC: '50' }), bed.t, { db }));
  expect(summary).toMatchObject({ outcome: 'complete', sent: n, maxConcurrency: 50 });
  const trips = LOOP_CALLS.reduce((sum, fn) => sum + (db.calls[fn] ?? 0), 0);
  expect({ perRecipient: trips / n, calls: db.calls }).toMatchObject({ perRecipient: expect.any(Number) });
  expect(trips / n).toBeLessThanOrEqual(0.1);
  // Marks made ahead of the places in flight, never past the ceiling.
  expect(summary.peakUnrecorded).toBeGreaterThan(summary.peakConcurrency);
  expect(summary.peakUnrecorded).toBeLessThanOrEqual(summary.maxConcurrency);
  expect(await ledger(id)).toEqual({ sent: n, queued: 0, marked_unsent: 0, other: 0 });
  expect(new Set(bed.ses.sent.map((c) => c.to[0])).size).toBe(n);
}, 60_000);

test('a lease lost mid-send: the marks made ahead and not yet sent go back to the queue, none is sent after the loss beyond the places in flight', async () => {
  const n = 300;
  await seedSubscribers(bed.t.pool, n);
  const id = mailoutIdFromName('trips-lost-lease');
  let callsAtLoss = -1;
  const db = countingDb(bed.t.db, async (fn, k) => {
    // The 6th trip finds the lease passed: its marks are lost, the marks made ahead before it stand.
    if (fn === 'send_trip' && k === 6) {
      callsAtLoss = bed.ses.callCount;
      await bed.t.pool.query(`update mailouts set lease_until = now() - interval '1 second' where id = $1`, [id]);
    }
  });
  const config = testConfig(bed.t, bed.ses.url, { RATE_LIMIT_PER_SEC: '200' });
  const summary = await run(id, sendDeps(config, bed.t, { db }));
  expect(summary.outcome).toBe('lease_lost');
  expect(callsAtLoss).toBeGreaterThan(0);
  expect(summary.peakUnrecorded).toBeGreaterThan(summary.peakConcurrency);
  // Only what had already taken its slot went on (the places in flight).
  expect(bed.ses.callCount - callsAtLoss).toBeLessThanOrEqual(summary.peakConcurrency);
  // Every message SES took is recorded sent; nothing is left marked and unsent (a resume would make it unknown).
  const after = await ledger(id);
  expect(after).toMatchObject({ sent: bed.ses.sentCount, marked_unsent: 0, other: 0 });
  expect(after.sent + after.queued).toBe(n);
}, 60_000);

test('a graceful stop at the deadline: what was marked ahead and not sent goes back to the queue, and the next invocation sends it once', async () => {
  const n = 200;
  await seedSubscribers(bed.t.pool, n);
  const id = mailoutIdFromName('trips-deadline');
  const config = testConfig(bed.t, bed.ses.url, { RATE_LIMIT_PER_SEC: '100', BATCH_SIZE: '20' });
  bed.ses.setLatency(10);
  const first = await run(id, sendDeps(config, bed.t, { deadline: () => Date.now() + 700 }));
  expect(first.outcome).toBe('released');
  const between = await ledger(id);
  expect(between.sent).toBeGreaterThan(0);
  expect(between).toMatchObject({ sent: first.sent, marked_unsent: 0, other: 0 });
  expect(between.sent + between.queued).toBe(n);

  await bed.t.pool.query(`update mailouts set lease_until = now() - interval '1 second' where id = $1`, [id]);
  const second = await run(id, sendDeps(config, bed.t));
  expect(second.outcome).toBe('complete');
  expect(await ledger(id)).toEqual({ sent: n, queued: 0, marked_unsent: 0, other: 0 });
  const to = bed.ses.sent.map((c) => c.to[0]!);
  expect(new Set(to).size).toBe(n);
  expect(to).toHaveLength(n);
}, 60_000);
