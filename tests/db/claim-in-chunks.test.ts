import type { Client } from 'pg';
import { createTestDatabase, seedSubscribers, type TestDatabase, STORED_LETTER, leaseOf } from '../helpers/db';

/**
 * A list longer than one chunk of the copy (private.snapshot_recipients copies 2,000 at a
 * time): the claim fixes the recipients at once and copies the first chunk, claim_batch the
 * rest. Whoever changes in between is judged by the claim's instant, not the copy's.
 */
const LIST = 12_000;
const CHUNK = 2_000;
const MAILOUT = '0d1e6c8a-5b1f-8c3e-9a57-2f6b8e4c1a90';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t.drop();
});
let active: string[];
let gone: string[];
beforeEach(async () => {
  await t.pool.query('truncate subscribers, mailouts, deliveries cascade');
  active = await seedSubscribers(t.pool, LIST);
  gone = await seedSubscribers(t.pool, 50, { prefix: 'gone', status: 'unsubscribed' });
});

async function claim() {
  const c = await t.ledger.claim(MAILOUT, { leaseSeconds: 600, content: STORED_LETTER });
  return { ...c, leaseToken: c.leaseToken! };
}

/** Hands out every batch (several workers at once), records each as sent; the ids handed out. */
async function drain(leaseToken: string, workers = 1): Promise<string[]> {
  const handed: string[] = [];
  await Promise.all(
    Array.from({ length: workers }, async () => {
      for (;;) {
        const batch = await t.ledger.run({ mailoutId: MAILOUT, leaseToken, leaseSeconds: 600 }).claimBatch({ limit: 400 });
        if (batch.length === 0) return;
        handed.push(...batch.map((b) => b.subscriberId));
        await t.ledger.run({ mailoutId: MAILOUT, leaseToken, leaseSeconds: 60 }).record(batch.map((b) => ({ subscriberId: b.subscriberId, status: 'sent' as const, sesMessageId: `m-${b.subscriberId}` })));
      }
    }),
  );
  return handed;
}

/** Active subscribers whose chunk has not been copied yet (the last ones in id order). */
async function notCopiedYet(n: number): Promise<string[]> {
  const { rows } = await t.pool.query<{ id: string }>(
    `select s.id from subscribers s
      where s.status = 'active'
        and not exists (select 1 from deliveries d where d.mailout_id = $1 and d.subscriber_id = s.id)
      order by s.id desc limit $2`,
    [MAILOUT, n],
  );
  expect(rows).toHaveLength(n);
  return rows.map((r) => r.id);
}

async function ledger(): Promise<Map<string, { status: string; error_code: string | null }>> {
  const { rows } = await t.pool.query(`select subscriber_id, status, error_code from deliveries where mailout_id = $1`, [MAILOUT]);
  return new Map(rows.map((r) => [r.subscriber_id as string, { status: r.status as string, error_code: r.error_code as string | null }]));
}

test('a claim of a list longer than a chunk copies only the first chunk, and the batches then hand out every recipient exactly once', async () => {
  const c = await claim();
  expect(c).toMatchObject({ outcome: 'claimed', recipients: LIST, queued: LIST });
  expect((await ledger()).size).toBe(CHUNK);

  const handed = await drain(c.leaseToken, 4);
  expect(handed).toHaveLength(LIST);
  expect(new Set(handed)).toEqual(new Set(active));
  const rows = await ledger();
  expect(rows.size).toBe(LIST);
  expect([...rows.values()].every((r) => r.status === 'sent')).toBe(true);
  const fin = await t.ledger.run(leaseOf(c)).finish({ outcome: 'complete' });
  expect(fin).toMatchObject({ status: 'sent', recipients: LIST, sent: LIST, queued: 0 });
});

test('whoever leaves the list after the claim, before their chunk is copied, is skipped, not sent; whoever leaves and comes back is sent', async () => {
  const c = await claim();
  const [unsubscribed, bounced, deleted, returned] = (await notCopiedYet(4)) as [string, string, string, string];
  await t.pool.query(`select * from unsubscribe($1)`, [unsubscribed]);
  await t.pool.query(`update subscribers set status = 'bounced' where id = $1`, [bounced]);
  await t.pool.query(`delete from subscribers where id = $1`, [deleted]);
  await t.pool.query(`select * from unsubscribe($1)`, [returned]);
  await t.pool.query(`select * from resubscribe($1)`, [returned]);

  const handed = await drain(c.leaseToken);
  expect(handed).toHaveLength(LIST - 3);
  expect(new Set(handed).size).toBe(LIST - 3);
  expect(handed).not.toEqual(expect.arrayContaining([unsubscribed]));
  expect(handed).not.toEqual(expect.arrayContaining([bounced]));
  expect(handed).not.toEqual(expect.arrayContaining([deleted]));
  expect(handed).toContain(returned);
  const rows = await ledger();
  expect(rows.get(unsubscribed)).toEqual({ status: 'skipped', error_code: 'subscriber_unsubscribed' });
  expect(rows.get(bounced)).toEqual({ status: 'skipped', error_code: 'subscriber_bounced' });
  expect(rows.get(deleted)).toEqual({ status: 'skipped', error_code: 'subscriber_deleted' });
  const fin = await t.ledger.run(leaseOf(c)).finish({ outcome: 'complete' });
  expect(fin).toMatchObject({ status: 'sent', recipients: LIST, sent: LIST - 3, skipped: 3 });
});

test('whoever joins or comes back after the claim is not included, even in a chunk copied later', async () => {
  const c = await claim();
  const { rows: joined } = await t.pool.query<{ id: string }>(
    `insert into subscribers (id, email, status) values
       ('ffffffff-ffff-4fff-bfff-ffffffffffff', 'late-last@example.com', 'active'),
       (gen_random_uuid(), 'late-any@example.com', 'active')
     returning id`,
  );
  // The returning subscribers with the highest ids: their chunk is among the last copied.
  const back = [...gone].sort().slice(-5);
  for (const id of back) await t.pool.query(`select * from resubscribe($1)`, [id]);

  const handed = new Set(await drain(c.leaseToken));
  expect(handed).toEqual(new Set(active));
  const rows = await ledger();
  expect(rows.size).toBe(LIST);
  for (const id of [...joined.map((r) => r.id), ...back]) expect(rows.has(id)).toBe(false);
});

test('a mailout paused before its copy is done counts the recipients not copied yet as pending; its resume queues them and hands out each once', async () => {
  const first = await claim();
  const early = await t.ledger.run({ mailoutId: MAILOUT, leaseToken: first.leaseToken, leaseSeconds: 600 }).claimBatch({ limit: 100 });
  await t.ledger.run({ mailoutId: MAILOUT, leaseToken: first.leaseToken, leaseSeconds: 60 }).record(early.map((b) => ({ subscriberId: b.subscriberId, status: 'sent' as const, sesMessageId: `m-${b.subscriberId}` })));
  await t.ledger.run({ mailoutId: MAILOUT, leaseToken: first.leaseToken, leaseSeconds: 60 }).finish({ outcome: 'paused', reason: 'test' });
  expect(await t.ledger.pendingCount(MAILOUT)).toEqual({ claimed: true, status: 'paused', pending: LIST - 100 });

  const resumed = await claim();
  expect(resumed).toMatchObject({ outcome: 'resumed', recipients: LIST, queued: LIST - 100 });
  const rest = await drain(resumed.leaseToken, 3);
  expect(rest).toHaveLength(LIST - 100);
  expect(new Set([...rest, ...early.map((b) => b.subscriberId)])).toEqual(new Set(active));
});

/** Waits until `pid` is blocked on a lock (the claim waiting for a change under way). */
async function blockedOnLock(pid: number): Promise<void> {
  for (;;) {
    const { rows } = await t.pool.query(`select wait_event_type from pg_stat_activity where pid = $1`, [pid]);
    if (rows[0]?.wait_event_type === 'Lock') return;
    await new Promise((r) => setImmediate(r));
  }
}

async function backendPid(c: Client): Promise<number> {
  return (await c.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
}

test('the claim waits for a change under way, and a change that waited for the claim is judged after it', async () => {
  // The highest id: the first chunk does not hold it.
  const leaving = [...active].sort().at(-1)!;
  const leaver = await t.connect();
  const claimer = await t.connect();
  const claimerPid = await backendPid(claimer);
  const joiner = await t.connect();
  // An unsubscribe under way when the claim starts: the claim counts the list after it.
  await leaver.query('begin');
  await leaver.query(`select * from unsubscribe($1)`, [leaving]);
  // A resubscribe whose transaction began before the claim, and that reaches the list after it.
  await joiner.query('begin');
  await joiner.query('select now()');

  const claimed = claimer.query(`select * from claim_mailout($1, null, 600, $2)`, [MAILOUT, JSON.stringify(STORED_LETTER)]);
  await blockedOnLock(claimerPid);
  await leaver.query('commit');
  const { rows } = await claimed;
  expect(rows[0]).toMatchObject({ outcome: 'claimed', recipients: LIST - 1 });
  await joiner.query(`select * from resubscribe($1)`, [gone[0]]);
  await joiner.query('commit');

  const handed = new Set(await drain(rows[0].lease_token));
  expect(handed.size).toBe(LIST - 1);
  expect(handed.has(leaving)).toBe(false);
  expect(handed.has(gone[0]!)).toBe(false);
  expect((await ledger()).size).toBe(LIST - 1);
});
