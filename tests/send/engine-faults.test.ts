import { startMailout, type SendDeps } from '../../lib/send';
import type { Db } from '../../lib/db';
import { startFakeSes, type FakeSes } from '../../scripts/fakes/ses';
import { createTestDatabase, seedSubscribers, type TestDatabase } from '../helpers/db';
import { sendDeps, testConfig } from './helpers';
import { mailoutIdFromName } from '../../lib/mailout-id';

/**
 * The send loop when things go wrong at the edges: a ledger fault while marking, retries
 * running out in the last batch, another invocation taking the lease mid-send, a ledger
 * fault after a pause, a slow ledger.
 * Real Postgres, the fake SES over HTTP.
 */
let t: TestDatabase;
let ses: FakeSes;
beforeAll(async () => {
  t = await createTestDatabase();
  ses = await startFakeSes({ account: { SendQuota: { Max24HourSend: -1, MaxSendRate: 5000 } } });
});
afterAll(async () => {
  await ses.close();
  await t.drop();
});
beforeEach(async () => {
  ses.reset();
  ses.setLatency(0);
  await t.pool.query('truncate subscribers, mailouts, deliveries, test_sends, ses_events cascade');
});

async function statuses(id: string): Promise<Record<string, number>> {
  const { rows } = await t.pool.query(`select status, count(*)::int n from deliveries where mailout_id = $1 group by status`, [id]);
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

function wrapDb(wrap: (fn: string, args: Record<string, unknown> | undefined, next: () => Promise<unknown[]>) => Promise<unknown[]>): Db {
  return {
    kind: t.db.kind,
    close: () => t.db.close(),
    rpc: ((fn: string, args?: Record<string, unknown>) => wrap(fn, args, () => t.db.rpc(fn, args))) as Db['rpc'],
  };
}

async function start(id: string, deps: SendDeps) {
  const res = await startMailout(deps, { mailoutId: id, fromNotion: false, dryRun: false, continuation: false });
  expect(res.run).toBeDefined();
  return res.run!();
}

test.each([10, 60])(
  'SES retries running out for a recipient of the last batch (%i recipients): the row goes round again and the mailout completes',
  async (n) => {
    await seedSubscribers(t.pool, n);
    const { rows } = await t.pool.query(`select email from subscribers order by id desc limit 1`);
    // Every attempt of the first round fails (5xx, retried until the retries run out), then SES recovers.
    ses.setFailure({ to: rows[0].email, error: { status: 500, type: 'InternalFailure', message: 'Internal error' }, times: 5 });
    ses.setLatency(10);
    const summary = await start(mailoutIdFromName(`m-last-${n}`), sendDeps(testConfig(t, ses.url, { SEND_CONCURRENCY: '4' }), t));
    expect(summary).toMatchObject({ outcome: 'complete' });
    expect(summary.final).toMatchObject({ status: 'sent', sent: n });
    expect(await statuses(mailoutIdFromName(`m-last-${n}`))).toEqual({ sent: n });
    expect(ses.sent.filter((c) => c.to[0] === rows[0].email)).toHaveLength(1);
  },
);

test('when another invocation takes the lease mid-send, every row left unknown was really handed to SES, and nobody twice', async () => {
  await seedSubscribers(t.pool, 300);
  const concurrency = 8;
  const config = testConfig(t, ses.url, { SEND_CONCURRENCY: String(concurrency), RATE_LIMIT_PER_SEC: '200' });
  // After 60 answers, SES stops answering: the sender fills its places and waits, so the
  // takeover below finds messages in flight (at least the 61st), whatever the machine's speed.
  ses.holdAnswers({ after: 60 });
  const run = start('435f9575-5f6c-8ad1-98ef-ce2a0d24a1d2', sendDeps(config, t));
  await ses.whenCalls(61);
  // The lease looks expired to a resume (a cron, or a second webhook), which takes the mailout over.
  await t.pool.query(`update mailouts set lease_until = now() - interval '1 second' where id = '435f9575-5f6c-8ad1-98ef-ce2a0d24a1d2'`);
  // In one transaction: the rows the old invocation has marked (locked, so its answers wait),
  // then the resume, which turns them `unknown`.
  const c = await t.connect();
  await c.query('begin');
  const { rows: taken } = await c.query<{ email: string }>(
    `select d.email from deliveries d where d.mailout_id = '435f9575-5f6c-8ad1-98ef-ce2a0d24a1d2' and d.status = 'sending' and d.attempted_at is not null for update`,
  );
  await c.query(`select * from claim_mailout('435f9575-5f6c-8ad1-98ef-ce2a0d24a1d2', null, 120, '{"subject":"S"}')`);
  await c.query('commit');
  ses.releaseAnswers();
  const summary = await run;
  expect(summary.outcome).toBe('lease_lost');

  const { rows } = await t.pool.query<{ email: string; status: string }>(
    `select s.email, d.status from deliveries d join subscribers s on s.id = d.subscriber_id where d.mailout_id = '435f9575-5f6c-8ad1-98ef-ce2a0d24a1d2'`,
  );
  const called = new Map<string, number>();
  for (const c of ses.calls) called.set(c.to[0]!, (called.get(c.to[0]!) ?? 0) + 1);
  // The messages the old invocation had marked when the lease was taken: each was sent, once.
  expect(taken.length).toBeGreaterThan(0);
  expect(taken.length).toBeLessThanOrEqual(concurrency);
  expect(taken.filter((r) => called.get(r.email) !== 1)).toEqual([]);
  const unknown = rows.filter((r) => r.status === 'unknown');
  expect(unknown.filter((r) => !called.has(r.email))).toEqual([]);
  expect([...called.values()].every((n) => n === 1)).toBe(true);
  // What the old invocation had not started is queued for the new one.
  expect(rows.filter((r) => r.status === 'queued').every((r) => !called.has(r.email))).toBe(true);
});

test('a ledger fault after SES paused the account keeps the mailout paused for a person, not for the cron', async () => {
  await seedSubscribers(t.pool, 100);
  ses.setFailure({ afterSends: 20, error: 'SendingPausedException' });
  let failedOnce = false;
  const db = wrapDb((fn, args, next) => {
    if (fn === 'send_trip' && !failedOnce && JSON.stringify(args).includes('"queued"')) {
      failedOnce = true;
      return Promise.reject(new Error('connection terminated unexpectedly'));
    }
    return next();
  });
  const summary = await start('f15aff55-e547-80cb-bc1c-09106725f38a', sendDeps(testConfig(t, ses.url, { SEND_CONCURRENCY: '4' }), t, { db }));
  expect(failedOnce).toBe(true);
  expect(summary.outcome).toBe('paused');
  expect(summary.reason).toMatch(/SendingPaused/);
  const { rows } = await t.pool.query(`select status from mailouts where id = 'f15aff55-e547-80cb-bc1c-09106725f38a'`);
  expect(rows[0].status).toBe('paused');
  await t.pool.query(`update mailouts set lease_until = now() - interval '1 second' where id = 'f15aff55-e547-80cb-bc1c-09106725f38a'`);
  expect((await t.pool.query(`select * from mailouts_to_resume(10)`)).rows).toEqual([]);
});

test('a slow ledger never lets more than SEND_CONCURRENCY messages be marked and not yet recorded', async () => {
  await seedSubscribers(t.pool, 60);
  const db = wrapDb(async (fn, _args, next) => {
    if (fn === 'send_trip') await new Promise((r) => setTimeout(r, 100));
    return next();
  });
  const run = start('f360e203-d923-843f-afe9-e7b8db6de24b', sendDeps(testConfig(t, ses.url, { SEND_CONCURRENCY: '3' }), t, { db }));
  let done = false;
  void run.finally(() => (done = true));
  let most = 0;
  while (!done) {
    const { rows } = await t.pool.query(
      `select count(*)::int n from deliveries where mailout_id = 'f360e203-d923-843f-afe9-e7b8db6de24b' and status = 'sending' and attempted_at is not null`,
    );
    most = Math.max(most, rows[0].n);
    await new Promise((r) => setTimeout(r, 20));
  }
  expect((await run).outcome).toBe('complete');
  expect(most).toBeGreaterThan(0);
  expect(most).toBeLessThanOrEqual(3);
}, 60_000);

test('a database fault while marking a message fails nobody: the run stops, and a resume sends everyone exactly once', async () => {
  await seedSubscribers(t.pool, 120);
  const config = testConfig(t, ses.url, { SEND_CONCURRENCY: '2' });
  let calls = 0;
  const db = wrapDb((fn, args, next) => {
    if (fn === 'send_trip' && (args?.p_marks as unknown[]).length > 0 && ++calls === 30) return Promise.reject(new Error('connection terminated unexpectedly'));
    return next();
  });
  await expect(start('bc5b9ae0-12ed-843e-89b1-7e9895b9a67a', sendDeps(config, t, { db }))).rejects.toThrow(/connection terminated/);
  expect((await statuses('bc5b9ae0-12ed-843e-89b1-7e9895b9a67a')).failed).toBeUndefined();
  const before = ses.sent.length;
  expect(before).toBeGreaterThan(0);
  expect(before).toBeLessThan(120);

  await t.pool.query(`update mailouts set lease_until = now() - interval '1 second' where id = 'bc5b9ae0-12ed-843e-89b1-7e9895b9a67a'`);
  expect((await start('bc5b9ae0-12ed-843e-89b1-7e9895b9a67a', sendDeps(config, t))).outcome).toBe('complete');
  const after = await statuses('bc5b9ae0-12ed-843e-89b1-7e9895b9a67a');
  expect(after.failed).toBeUndefined();
  expect((after.sent ?? 0) + (after.unknown ?? 0)).toBe(120);
  const to = ses.sent.map((c) => c.to[0]!);
  expect(new Set(to).size).toBe(to.length);
  expect(to.length).toBe(after.sent);
});

test('bounce and complaint statistics that cannot be read stop the run loudly instead of switching the auto-pause off', async () => {
  await seedSubscribers(t.pool, 120);
  const db = wrapDb((fn, _args, next) => {
    if (fn === 'mailout_feedback_stats') return Promise.reject(new Error('canceling statement due to statement timeout'));
    return next();
  });
  const id = 'c8f1d0a2-7b3e-8c41-9d2a-5e6f70818293';
  await expect(start(id, sendDeps(testConfig(t, ses.url, { SEND_CONCURRENCY: '2', BATCH_SIZE: '10' }), t, { db }))).rejects.toThrow(/statement timeout/);
  // Nothing was failed, and the mailout waits for a resume rather than being marked sent.
  expect((await statuses(id)).failed).toBeUndefined();
  expect((await t.pool.query(`select status from mailouts where id = $1`, [id])).rows[0].status).toBe('sending');
  expect(ses.sent.length).toBeLessThan(120);
});
