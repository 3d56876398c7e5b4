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
            count(*) filter (where status = 'sending' and attempted_at is null)::int claimed_only,
            count(*) filter (where status not in ('sent', 'queued', 'sending'))::int other
       from deliveries where mailout_id = $1`,
    [id],
  );
  return rows[0] as { sent: number; queued: number; marked_unsent: number; claimed_only: number; other: number };
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
  // (On failure, the calls by function say which.)
  expect(trips / n <= 0.1 ? 'at most 0.1' : { perRecipient: trips / n, calls: db.calls }).toBe('at most 0.1');
  // Marked and not recorded (what a crash would leave unknown) never past the ceiling.
  expect(summary.peakUnrecorded).toBeGreaterThan(0);
  expect(summary.peakUnrecorded).toBeLessThanOrEqual(summary.maxConcurrency);
  expect(await ledger(id)).toEqual({ sent: n, queued: 0, marked_unsent: 0, claimed_only: 0, other: 0 });
  expect(new Set(bed.ses.sent.map((c) => c.to[0])).size).toBe(n);
}, 60_000);

test('a lease lost mid-send: nothing is sent on a mark made after it, and nothing marked is left unsent', async () => {
  const n = 100;
  await seedSubscribers(bed.t.pool, n);
  const id = mailoutIdFromName('trips-lost-lease');
  let callsAtLoss = -1;
  let markedAtLoss: string[] = [];
  const db = countingDb(bed.t.db, async (fn, k) => {
    // The 3rd trip finds the lease passed: its marks are lost, the marks made before it stand.
    if (fn === 'send_trip' && k === 3) {
      callsAtLoss = bed.ses.callCount;
      const { rows } = await bed.t.pool.query(`select email from deliveries where mailout_id = $1 and status = 'sending' and attempted_at is not null`, [id]);
      markedAtLoss = rows.map((r) => r.email as string);
      await bed.t.pool.query(`update mailouts set lease_until = now() - interval '1 second' where id = $1`, [id]);
    }
  });
  // 20/s: a slot every 50 ms, so marks made ahead are still waiting when the loss is learnt.
  const config = testConfig(bed.t, bed.ses.url, { RATE_LIMIT_PER_SEC: '20' });
  const summary = await run(id, sendDeps(config, bed.t, { db }));
  expect(summary.outcome).toBe('lease_lost');
  expect(callsAtLoss).toBeGreaterThan(0);
  // Nothing was sent on a mark made after the loss (the loop learns of it at its next mark).
  expect(bed.ses.calls.slice(callsAtLoss).filter((c) => !markedAtLoss.includes(c.to[0]!))).toEqual([]);
  // Marks committed at the loss and not sent (if any) were handed back to the queue.
  const sentTo = new Set(bed.ses.sent.map((c) => c.to[0]!));
  const handedBack = markedAtLoss.filter((e) => !sentTo.has(e));
  const { rows: back } = await bed.t.pool.query(`select status, attempted_at from deliveries where mailout_id = $1 and email = any($2)`, [id, handedBack]);
  expect(back.filter((r) => r.status !== 'queued' || r.attempted_at !== null)).toEqual([]);
  // Every message SES took is recorded sent; nothing is left marked and unsent (a resume would make it unknown).
  // (Rows whose marks the loss refused are only claimed: a takeover queues them, never unknown.)
  const after = await ledger(id);
  expect(after).toMatchObject({ sent: bed.ses.sentCount, marked_unsent: 0, other: 0 });
  expect(after.sent + after.queued + after.claimed_only).toBe(n);
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
  expect(between).toMatchObject({ sent: first.sent, marked_unsent: 0, claimed_only: 0, other: 0 });
  expect(between.sent + between.queued).toBe(n);

  await bed.t.pool.query(`update mailouts set lease_until = now() - interval '1 second' where id = $1`, [id]);
  const second = await run(id, sendDeps(config, bed.t));
  expect(second.outcome).toBe('complete');
  expect(await ledger(id)).toEqual({ sent: n, queued: 0, marked_unsent: 0, claimed_only: 0, other: 0 });
  const to = bed.ses.sent.map((c) => c.to[0]!);
  expect(new Set(to).size).toBe(n);
  expect(to).toHaveLength(n);
}, 60_000);
