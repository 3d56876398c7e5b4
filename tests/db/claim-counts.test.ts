import type { Client } from 'pg';
import type { SendResult } from '../../lib/db/ledger';
import { createTestDatabase, seedSubscribers, type TestDatabase, STORED_LETTER, leaseOf } from '../helpers/db';

/**
 * The chunked claim and the ledger's counters together (20261203150000, 20261203170100): a
 * list longer than one chunk of the copy (2,000), so the ledger holds only part of the
 * recipients while the send goes. The counts must report the claim's recipients, count the
 * ones not copied yet as queued, and equal the ledger's rows once the copy is done. Real
 * Postgres; the concurrent cases are ordered by held transactions and lock waits.
 */
const LIST = 5_000;
const CHUNK = 2_000;
const MAILOUT = '5c0a7e21-3d4b-8f6a-9e17-2b8c4d6f0a13';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t.drop();
});
let active: string[];
beforeEach(async () => {
  await t.pool.query('truncate subscribers, mailouts, deliveries, ses_events cascade');
  active = (await seedSubscribers(t.pool, LIST)).sort();
});

async function claim() {
  const c = await t.ledger.claim(MAILOUT, { leaseSeconds: 600, content: STORED_LETTER });
  return { ...c, leaseToken: c.leaseToken! };
}

/** One batch as the send loop makes it: handed out, marked, then `outcome` recorded for each. */
async function sendBatch(token: string, limit: number, outcome: (id: string, i: number) => SendResult = sent): Promise<string[]> {
  const ids = (await t.ledger.run({ mailoutId: MAILOUT, leaseToken: token, leaseSeconds: 600 }).claimBatch({ limit })).map((b) => b.subscriberId);
  if (ids.length === 0) return ids;
  await t.ledger.run({ mailoutId: MAILOUT, leaseToken: token, leaseSeconds: 600 }).begin(ids);
  await t.ledger.run({ mailoutId: MAILOUT, leaseToken: token, leaseSeconds: 60 }).record(ids.map(outcome));
  return ids;
}
const sent = (id: string): SendResult => ({ subscriberId: id, status: 'sent', sesMessageId: `m-${id}` });

async function sendAll(token: string, outcome?: (id: string, i: number) => SendResult): Promise<string[]> {
  const handed: string[] = [];
  for (let batch = await sendBatch(token, 400, outcome); batch.length > 0; batch = await sendBatch(token, 400, outcome)) handed.push(...batch);
  return handed;
}

/** The ledger's rows by status, and how many recipients the claim fixed that are not rows yet. */
async function ledger() {
  const { rows } = await t.pool.query(
    `select count(d.*)::int as rows,
            ${['queued', 'sending', 'sent', 'failed', 'skipped', 'unknown'].map((s) => `count(*) filter (where d.status = '${s}')::int as ${s}`).join(', ')},
            (select claimed_recipients from mailouts where id = $1) as claimed
       from deliveries d where d.mailout_id = $1`,
    [MAILOUT],
  );
  const { rows: n, claimed, ...byStatus } = rows[0];
  return { rows: n as number, uncopied: (claimed as number) - (n as number), byStatus: byStatus as Record<string, number> };
}

/** mailout_counts and mailout_pending_count against the ledger: the claim's recipients, the uncopied ones queued. */
async function expectCountsOfTheClaim(step: string) {
  const l = await ledger();
  const counts = await t.ledger.counts(MAILOUT);
  expect({ step, counts }).toEqual({
    step,
    counts: { recipients: LIST, ...l.byStatus, queued: l.byStatus.queued! + l.uncopied },
  });
  expect({ step, pending: (await t.ledger.pendingCount(MAILOUT)).pending }).toEqual({ step, pending: counts.queued });
  return { ...l, counts };
}

test('while the copy is unfinished, mailout_counts and mailout_pending_count report the claim\'s recipients and count those not copied yet as queued', async () => {
  const c = await claim();
  expect(await expectCountsOfTheClaim('claimed')).toMatchObject({ rows: CHUNK, uncopied: LIST - CHUNK, counts: { queued: LIST } });

  await sendBatch(c.leaseToken, 300);
  expect(await expectCountsOfTheClaim('a batch sent')).toMatchObject({ rows: CHUNK, counts: { queued: LIST - 300, sent: 300 } });

  // The rest of the first chunk: the ledger has nothing queued, the claim still has 3,000 to send.
  await sendBatch(c.leaseToken, CHUNK - 300);
  expect(await expectCountsOfTheClaim('first chunk sent')).toMatchObject({
    rows: CHUNK,
    byStatus: { queued: 0 },
    counts: { queued: LIST - CHUNK, sent: CHUNK },
  });

  // A batch handed out but not recorded yet, from the chunk its claim_batch copied.
  const handed = await t.ledger.run(leaseOf(c, 600)).claimBatch({ limit: 100 });
  expect(await expectCountsOfTheClaim('second chunk copied')).toMatchObject({
    rows: 2 * CHUNK - 1,
    counts: { queued: LIST - CHUNK - handed.length, sending: handed.length },
  });
});

test('finish_mailout complete is refused while the copy is not done, even with nothing queued or sending in the ledger', async () => {
  const c = await claim();
  await sendBatch(c.leaseToken, CHUNK);
  expect((await ledger()).byStatus).toMatchObject({ queued: 0, sending: 0, sent: CHUNK });

  await expect(t.ledger.run(leaseOf(c)).finish({ outcome: 'complete' })).rejects.toMatchObject({ code: 'unfinished' });
  const { rows } = await t.pool.query(`select status, snapshot_done from mailouts where id = $1`, [MAILOUT]);
  expect(rows[0]).toEqual({ status: 'sending', snapshot_done: false });

  await sendAll(c.leaseToken);
  expect(await t.ledger.run(leaseOf(c)).finish({ outcome: 'complete' })).toMatchObject({
    status: 'sent',
    recipients: LIST,
    sent: LIST,
    queued: 0,
  });
});

async function backendPid(c: Client): Promise<number> {
  return (await c.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
}

/** Returns once `pid` waits for a lock that another transaction holds (pg_locks). */
async function waitingForLock(pid: number): Promise<void> {
  for (;;) {
    const { rows } = await t.pool.query(`select exists (select 1 from pg_locks where pid = $1 and not granted) as waiting`, [pid]);
    if (rows[0].waiting) return;
    await new Promise((r) => setImmediate(r));
  }
}

/**
 * The first chunk sent, so the next claim_batch copies the second; the leaver is a recipient of
 * the second chunk that its first batch does not hand out; two connections, with their pids.
 */
async function beforeTheSecondChunk() {
  const c = await claim();
  const handed = await sendBatch(c.leaseToken, CHUNK);
  const [copier, unsubscriber] = [await t.connect(), await t.connect()];
  const pids = { copier: await backendPid(copier), unsubscriber: await backendPid(unsubscriber) };
  return { token: c.leaseToken, handed, leaver: active[CHUNK + 1000]!, copier, unsubscriber, pids };
}

/** Sends the batch the copy handed out and all the rest; the leaver was skipped, never sent, the counts the ledger's. */
async function expectSkippedNotSent(s: { token: string; handed: string[]; leaver: string }, batch: { subscriber_id: string }[]) {
  const ids = batch.map((b) => b.subscriber_id);
  expect(ids).toHaveLength(50);
  await t.ledger.run({ mailoutId: MAILOUT, leaseToken: s.token, leaseSeconds: 600 }).begin(ids);
  await t.ledger.run({ mailoutId: MAILOUT, leaseToken: s.token, leaseSeconds: 60 }).record(ids.map(sent));
  const handed = [...s.handed, ...ids, ...(await sendAll(s.token))];
  expect(handed).not.toContain(s.leaver);
  const { rows } = await t.pool.query(`select status, error_code from deliveries where mailout_id = $1 and subscriber_id = $2`, [MAILOUT, s.leaver]);
  expect(rows).toEqual([{ status: 'skipped', error_code: 'subscriber_unsubscribed' }]);
  const l = await ledger();
  expect(l).toMatchObject({ rows: LIST, uncopied: 0, byStatus: { sent: LIST - 1, skipped: 1, queued: 0, sending: 0 } });
  expect(await t.ledger.counts(MAILOUT)).toEqual({ recipients: LIST, ...l.byStatus });
}

test('an unsubscribe of a recipient not copied yet, while claim_batch copies their chunk, waits for the copy: no deadlock, the skip kept', async () => {
  const s = await beforeTheSecondChunk();
  // claim_batch copies the second chunk and holds it, uncommitted, with the mailout's row.
  await s.copier.query('begin');
  const { rows: batch } = await s.copier.query(`select * from claim_batch($1, $2, 50, 600)`, [MAILOUT, s.token]);
  expect((await s.copier.query(`select 1 from deliveries where mailout_id = $1 and subscriber_id = $2`, [MAILOUT, s.leaver])).rowCount).toBe(1);

  const unsubscribed = s.unsubscriber.query(`select * from unsubscribe($1)`, [s.leaver]);
  await waitingForLock(s.pids.unsubscriber);
  await s.copier.query('commit');
  expect((await unsubscribed).rows[0]).toMatchObject({ status: 'unsubscribed', changed: true });
  await expectSkippedNotSent(s, batch);
});

test('a claim_batch that would copy the chunk of a recipient whose unsubscribe is under way waits for it: no deadlock, the skip kept', async () => {
  const s = await beforeTheSecondChunk();
  // The unsubscribe copies its recipient first (the mailout's row locked), and holds it.
  await s.unsubscriber.query('begin');
  await s.unsubscriber.query(`select * from unsubscribe($1)`, [s.leaver]);
  const copied = s.copier.query(`select * from claim_batch($1, $2, 50, 600)`, [MAILOUT, s.token]);
  await waitingForLock(s.pids.copier);
  await s.unsubscriber.query('commit');
  await expectSkippedNotSent(s, (await copied).rows);
});

test('after the whole send, with every kind of outcome and a leaver, the counts equal the ledger\'s rows exactly', async () => {
  const c = await claim();
  await t.pool.query(`select * from unsubscribe($1)`, [active[LIST - 1]]);
  const outcome = (id: string, i: number): SendResult =>
    i % 7 === 3
      ? { subscriberId: id, status: 'failed', errorCode: 'MessageRejected', errorMessage: 'rejected' }
      : i % 11 === 5
        ? { subscriberId: id, status: 'unknown', errorCode: 'TimeoutError', errorMessage: 'timed out' }
        : sent(id);
  await sendAll(c.leaseToken, outcome);
  const fin = await t.ledger.run(leaseOf(c)).finish({ outcome: 'complete' });

  const l = await ledger();
  expect(l).toMatchObject({ rows: LIST, uncopied: 0, byStatus: { queued: 0, sending: 0, skipped: 1 } });
  expect(l.byStatus.failed).toBeGreaterThan(0);
  expect(l.byStatus.unknown).toBeGreaterThan(0);
  const { rows } = await t.pool.query(
    `select recipients, queued, sending, sent, failed, skipped, unknown, snapshot_done from mailouts where id = $1`,
    [MAILOUT],
  );
  expect(rows[0]).toEqual({ recipients: LIST, ...l.byStatus, snapshot_done: true });
  expect(await t.ledger.counts(MAILOUT)).toEqual({ recipients: LIST, ...l.byStatus });
  expect(fin).toMatchObject({ status: 'sent', recipients: LIST, sent: l.byStatus.sent, failed: l.byStatus.failed, skipped: 1, unknown: l.byStatus.unknown, queued: 0 });
});

test('a resume answers the ledger\'s counters: a row its takeover settles as sent through an SES event already stored is not counted unknown', async () => {
  const c = await claim();
  const batch = await t.ledger.run(leaseOf(c, 600)).claimBatch({ limit: 3 });
  const ids = batch.map((b) => b.subscriberId);
  await t.ledger.run(leaseOf(c, 600)).begin(ids);
  // SES accepted the first one (its Send event, tagged, came in) but the run died before its answer.
  await t.pool.query(
    `select * from apply_ses_event('sns-resume-send', 'Send', 'ses-resume-1', array[$1], null, null, null, null, null, null, null, null, 3, '{}', $2, $3)`,
    [batch[0]!.email, MAILOUT, ids[0]],
  );
  expect(await t.ledger.claim(MAILOUT, { leaseSeconds: 600, content: null })).toMatchObject({
    outcome: 'in_progress',
    recipients: LIST,
    queued: LIST - 3,
  });

  await t.pool.query(`update mailouts set lease_until = now() - interval '1 second' where id = $1`, [MAILOUT]);
  const resumed = await t.ledger.claim(MAILOUT, { leaseSeconds: 600, content: null });
  const l = await ledger();
  expect(l.byStatus).toMatchObject({ sent: 1, unknown: 2, sending: 0 });
  expect(resumed).toMatchObject({ outcome: 'resumed', recipients: LIST, queued: LIST - 3, unknown: 2 });
  expect(await t.ledger.counts(MAILOUT)).toMatchObject({ recipients: LIST, queued: LIST - 3, sent: 1, unknown: 2 });
});
