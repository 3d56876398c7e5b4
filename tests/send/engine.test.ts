import { startMailout, type LoopSummary, type SendDeps } from '../../lib/send';
import { startFakeSes, type FakeSes } from '../../scripts/fakes/ses';
import { createTestDatabase, seedSubscribers, type TestDatabase } from '../helpers/db';
import { letter, sendDeps, testConfig } from './helpers';

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
  await t.pool.query('truncate subscribers, mailouts, deliveries, test_sends, ses_events cascade');
});

async function runToEnd(deps: SendDeps, mailoutId: string): Promise<LoopSummary[]> {
  const summaries: LoopSummary[] = [];
  let req = { mailoutId, fromNotion: false, dryRun: false, continuation: false };
  for (let i = 0; i < 100; i++) {
    const res = await startMailout(deps, req);
    if (!res.run) throw new Error(`not started: ${res.status} ${JSON.stringify(res.body)}`);
    const s = await res.run();
    summaries.push(s);
    if (s.outcome !== 'released') return summaries;
    req = { ...req, continuation: true };
  }
  throw new Error('did not finish in 100 invocations');
}

async function deliveryStatuses(mailoutId: string): Promise<Record<string, number>> {
  const { rows } = await t.pool.query(`select status, count(*)::int n from deliveries where mailout_id = $1 group by status`, [mailoutId]);
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

function sentAddresses(): string[] {
  return ses.sent.map((c) => c.to[0]!);
}

test('1,000 active subscribers get exactly 1,000 messages, one each, with their own unsubscribe link and the one-click headers', async () => {
  await seedSubscribers(t.pool, 1000);
  const config = testConfig(t, ses.url, { SEND_CONCURRENCY: '4' });
  const res = await startMailout(sendDeps(config, t), { mailoutId: 'e8d9ef9e-deac-89c4-bae6-b9f3a713c37d', fromNotion: false, dryRun: false, continuation: false });
  expect(res.status).toBe(202);
  expect(res.body).toMatchObject({ outcome: 'started', mode: 'live', recipients: 1000, queued: 1000 });
  const summary = await res.run!();
  expect(summary).toMatchObject({ outcome: 'complete', sent: 1000, failed: 0, unknown: 0 });
  expect(summary.final).toMatchObject({ status: 'sent', sent: 1000 });

  const addresses = sentAddresses();
  expect(addresses).toHaveLength(1000);
  expect(new Set(addresses).size).toBe(1000);
  const links = new Set<string>();
  for (const call of ses.sent) {
    const unsub = call.headers['List-Unsubscribe'];
    expect(unsub).toMatch(/^<https:\/\/mailout\.example\.com\/api\/unsubscribe\?token=[\w.-]+>$/);
    expect(call.headers['List-Unsubscribe-Post']).toBe('List-Unsubscribe=One-Click');
    const url = unsub!.slice(1, -1);
    expect(call.html).toContain(url.replace(/&/g, '&amp;'));
    expect(call.text).toContain(url);
    expect(call.tags).toMatchObject({ mailout_id: 'e8d9ef9e-deac-89c4-bae6-b9f3a713c37d' });
    links.add(url);
  }
  expect(links.size).toBe(1000);
  expect(await deliveryStatuses('e8d9ef9e-deac-89c4-bae6-b9f3a713c37d')).toEqual({ sent: 1000 });
});

test('the greeting uses each subscriber\'s own name', async () => {
  await seedSubscribers(t.pool, 3);
  const config = testConfig(t, ses.url);
  const res = await startMailout(sendDeps(config, t), { mailoutId: '589d2d69-6e7f-8a8f-812f-cc7e2258049c', fromNotion: false, dryRun: false, continuation: false });
  await res.run!();
  const texts = ses.sent.map((c) => c.text ?? '');
  expect(texts.filter((x) => /Hi Name \d/.test(x))).toHaveLength(3);
});

test('a send cut off by a tiny time budget completes over several invocations with no duplicate and no one missed', async () => {
  await seedSubscribers(t.pool, 300);
  const config = testConfig(t, ses.url, { BATCH_SIZE: '20' });
  // Every invocation is out of time after its first batch.
  const summaries = await runToEnd(sendDeps(config, t, { deadline: () => Date.now() - 1 }), '9bc7aabd-3211-82e5-8f4c-3f9c0da024f2');
  // 15 invocations of one batch each, then one that finds the queue empty and completes.
  expect(summaries.map((s) => s.outcome)).toEqual([...Array(15).fill('released'), 'complete']);
  expect(summaries.slice(0, 15).every((s) => s.sent === 20 && s.batches === 1)).toBe(true);
  const addresses = sentAddresses();
  expect(addresses).toHaveLength(300);
  expect(new Set(addresses).size).toBe(300);
  expect(await deliveryStatuses('9bc7aabd-3211-82e5-8f4c-3f9c0da024f2')).toEqual({ sent: 300 });
});

test('injected SES throttling and 5xx are retried and nobody is lost or sent twice', async () => {
  await seedSubscribers(t.pool, 200);
  ses.setFailure({ next: 5, error: 'TooManyRequestsException' });
  ses.setFailure({ times: 4, when: (c) => c.n % 17 === 0, error: 'InternalFailure' });
  const config = testConfig(t, ses.url);
  const res = await startMailout(sendDeps(config, t), { mailoutId: '1ed51e91-bcfd-814e-bf09-5971f02536bf', fromNotion: false, dryRun: false, continuation: false });
  const summary = await res.run!();
  expect(summary).toMatchObject({ outcome: 'complete', sent: 200, failed: 0 });
  expect(ses.calls.length).toBeGreaterThan(200);
  expect(new Set(sentAddresses()).size).toBe(200);
  expect(sentAddresses()).toHaveLength(200);
});

test('"sending paused" pauses the mailout with the reason, the rest still queued, and a resume finishes without duplicates', async () => {
  await seedSubscribers(t.pool, 150);
  ses.setFailure({ afterSends: 60, error: 'SendingPausedException' });
  const config = testConfig(t, ses.url);
  const deps = sendDeps(config, t);
  const res = await startMailout(deps, { mailoutId: 'f417790a-cc29-8316-adf3-82f600a7fe99', fromNotion: false, dryRun: false, continuation: false });
  const summary = await res.run!();
  expect(summary.outcome).toBe('paused');
  expect(summary.final).toMatchObject({ status: 'paused', sent: 60 });
  expect(summary.final!.lastError).toMatch(/SendingPaused/);
  expect(await deliveryStatuses('f417790a-cc29-8316-adf3-82f600a7fe99')).toEqual({ sent: 60, queued: 90 });

  ses.clearFailures();
  const again = await startMailout(deps, { mailoutId: 'f417790a-cc29-8316-adf3-82f600a7fe99', fromNotion: false, dryRun: false, continuation: false });
  expect(again.body).toMatchObject({ outcome: 'resumed', queued: 90 });
  await again.run!();
  expect(await deliveryStatuses('f417790a-cc29-8316-adf3-82f600a7fe99')).toEqual({ sent: 150 });
  expect(new Set(sentAddresses()).size).toBe(150);
  expect(sentAddresses()).toHaveLength(150);
});

test('a recipient-level rejection is recorded as failed while the send goes on', async () => {
  await seedSubscribers(t.pool, 30);
  ses.setFailure({ to: 'sub7@example.com', error: 'MessageRejected' });
  const config = testConfig(t, ses.url);
  const res = await startMailout(sendDeps(config, t), { mailoutId: '904f9c30-280d-8444-8fd0-1bd470a1c38b', fromNotion: false, dryRun: false, continuation: false });
  const summary = await res.run!();
  expect(summary).toMatchObject({ outcome: 'complete', sent: 29, failed: 1 });
  const { rows } = await t.pool.query(`select email, error_code from deliveries where mailout_id = '904f9c30-280d-8444-8fd0-1bd470a1c38b' and status = 'failed'`);
  expect(rows).toEqual([{ email: 'sub7@example.com', error_code: 'MessageRejected' }]);
});

test('10 failures in a row pause the mailout instead of failing everyone after them', async () => {
  await seedSubscribers(t.pool, 40);
  ses.setFailure({ when: () => true, error: 'MessageRejected' });
  const config = testConfig(t, ses.url, { BATCH_SIZE: '5' });
  const res = await startMailout(sendDeps(config, t), { mailoutId: 'a929127b-4a4f-8092-b1c1-faa884621e3f', fromNotion: false, dryRun: false, continuation: false });
  const summary = await res.run!();
  expect(summary.outcome).toBe('paused');
  expect(summary.final!.lastError).toMatch(/10 failures in a row/);
  const s = await deliveryStatuses('a929127b-4a4f-8092-b1c1-faa884621e3f');
  expect(s.failed).toBe(10);
  expect(s.queued).toBe(30);
});

test('an address unsubscribed or bounced during the send is not sent to', async () => {
  const ids = await seedSubscribers(t.pool, 100);
  // Four places at most: the loop claims at most a batch or two ahead of what is in flight,
  // so most of the list is still queued while SES holds its answers.
  const config = testConfig(t, ses.url, { BATCH_SIZE: '10', RATE_LIMIT_PER_SEC: '200', SEND_CONCURRENCY: '4' });
  // SES holds its answer to the 16th message: the send waits there, whatever the machine's speed.
  ses.holdAnswers({ after: 15 });
  const res = await startMailout(sendDeps(config, t), { mailoutId: 'cb8744d9-9e74-8422-91bf-4dcd2d2940bd', fromNotion: false, dryRun: false, continuation: false });
  const running = res.run!();
  // While the first batches go out, two readers leave: two rows still queued, locked while
  // they leave (claim_batch skips locked rows), so no claim or mark can slip in between.
  await ses.whenCalls(16);
  const client = await t.pool.connect();
  let rows: { subscriber_id: string }[];
  try {
    await client.query('begin');
    ({ rows } = await client.query(
      `select subscriber_id from deliveries where mailout_id = 'cb8744d9-9e74-8422-91bf-4dcd2d2940bd'
          and status = 'queued' order by subscriber_id desc limit 2 for update`,
    ));
    expect(rows).toHaveLength(2);
    await client.query(`select * from unsubscribe($1)`, [rows[0]!.subscriber_id]);
    await client.query(`update subscribers set status = 'bounced' where id = $1`, [rows[1]!.subscriber_id]);
    await client.query('commit');
  } finally {
    client.release();
  }
  ses.releaseAnswers();
  const summary = await running;
  expect(summary.outcome).toBe('complete');
  const left = await t.pool.query(`select email from subscribers where id = any($1::uuid[])`, [[rows[0]!.subscriber_id, rows[1]!.subscriber_id]]);
  for (const r of left.rows) expect(sentAddresses()).not.toContain(r.email);
  expect(sentAddresses()).toHaveLength(98);
  expect(await deliveryStatuses('cb8744d9-9e74-8422-91bf-4dcd2d2940bd')).toEqual({ sent: 98, skipped: 2 });
  expect(ids).toHaveLength(100);
});

test('test mode twice in a row sends twice to the test addresses and nothing to subscribers', async () => {
  await seedSubscribers(t.pool, 20);
  const config = testConfig(t, ses.url);
  const deps = sendDeps(config, t, { loadLetter: async () => ({ ...letter('Issue #1'), test: true }) });
  for (let i = 0; i < 2; i++) {
    const res = await startMailout(deps, { mailoutId: 'a886d75a-f77c-847f-bb11-343c50160b56', fromNotion: false, dryRun: false, continuation: false });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ outcome: 'test_sent', mode: 'test', sent: 2 });
    expect(res.run).toBeUndefined();
  }
  expect(sentAddresses().sort()).toEqual(['editor@example.com', 'editor@example.com', 'second@example.com', 'second@example.com']);
  expect(ses.sent.every((c) => (c.subject ?? '').startsWith('[TEST] Issue #1'))).toBe(true);
  const claims = await t.pool.query(`select count(*)::int n from mailouts`);
  expect(claims.rows[0].n).toBe(0);
  const tests = await t.pool.query(`select count(*)::int n, count(distinct run_id)::int runs from test_sends where mailout_id = 'a886d75a-f77c-847f-bb11-343c50160b56'`);
  expect(tests.rows[0]).toEqual({ n: 4, runs: 2 });
});

test('test sends go to each TEST_EMAILS address once, in its canonical form; the page in any spelling is one mailout id', async () => {
  const config = testConfig(t, ses.url, { TEST_EMAILS: ' Editor@EXAMPLE.com, editor@example.com,\nsecond@Example.COM ' });
  expect(config.testEmails).toEqual(['Editor@example.com', 'second@example.com']);
  expect(() => testConfig(t, ses.url, { TEST_EMAILS: 'editor@example' })).toThrow(/TEST_EMAILS/);
  const page = 'a886d75a-f77c-847f-bb11-343c50160b56';
  const deps = sendDeps(config, t, { loadLetter: async () => ({ ...letter('Issue #2'), test: true }) });
  const res = await startMailout(deps, { mailoutId: page.replace(/-/g, '').toUpperCase(), fromNotion: false, dryRun: false, continuation: false });
  expect(res.body).toMatchObject({ outcome: 'test_sent', mailout_id: page, sent: 2 });
  expect(sentAddresses().sort()).toEqual(['Editor@example.com', 'second@example.com']);
  const { rows } = await t.pool.query(`select mailout_id, email from test_sends order by email`);
  expect(rows).toEqual([
    { mailout_id: page, email: 'Editor@example.com' },
    { mailout_id: page, email: 'second@example.com' },
  ]);
});

test('a second request for a sent mailout is refused with 409, or answered 200 "duplicate" to Notion', async () => {
  await seedSubscribers(t.pool, 5);
  const config = testConfig(t, ses.url);
  const deps = sendDeps(config, t);
  const first = await startMailout(deps, { mailoutId: '4f27a88c-aefc-8411-acf0-acceaa59693f', fromNotion: false, dryRun: false, continuation: false });
  await first.run!();
  const direct = await startMailout(deps, { mailoutId: '4f27a88c-aefc-8411-acf0-acceaa59693f', fromNotion: false, dryRun: false, continuation: false });
  expect(direct.status).toBe(409);
  expect(direct.run).toBeUndefined();
  const notion = await startMailout(deps, { mailoutId: '4f27a88c-aefc-8411-acf0-acceaa59693f', fromNotion: true, dryRun: false, continuation: false });
  expect(notion.status).toBe(200);
  expect(notion.body).toMatchObject({ outcome: 'duplicate' });
  expect(sentAddresses()).toHaveLength(5);
});

test('a refused pre-flight changes nothing and says why', async () => {
  await seedSubscribers(t.pool, 50);
  ses.setAccount({ SendQuota: { Max24HourSend: 100, MaxSendRate: 14, SentLast24Hours: 80 } });
  try {
    const config = testConfig(t, ses.url);
    await expect(
      startMailout(sendDeps(config, t), { mailoutId: 'c0a9efaa-42d1-89e3-a730-d5fda528e168', fromNotion: false, dryRun: false, continuation: false }),
    ).rejects.toMatchObject({ code: 'precondition_failed', message: expect.stringMatching(/quota/i) });
    const claims = await t.pool.query(`select count(*)::int n from mailouts`);
    expect(claims.rows[0].n).toBe(0);
  } finally {
    ses.setAccount({ SendQuota: { Max24HourSend: -1, MaxSendRate: 5000 } });
  }
});

test('a dry run reads and renders but neither claims nor sends', async () => {
  await seedSubscribers(t.pool, 12);
  const config = testConfig(t, ses.url);
  const res = await startMailout(sendDeps(config, t), { mailoutId: '913105ae-8722-8743-8619-28068cd1746e', fromNotion: false, dryRun: true, continuation: false });
  expect(res.body).toMatchObject({ outcome: 'dry_run', recipients: 12, subject: 'Hello readers', claimed: false });
  expect(ses.calls).toHaveLength(0);
  expect((await t.pool.query(`select count(*)::int n from mailouts`)).rows[0].n).toBe(0);
});

// Each live message names its delivery row in its SES tags, which SES copies into every event.
test('every message of a live send carries the tags mailout_id and subscriber_id of its delivery row', async () => {
  await seedSubscribers(t.pool, 12);
  const id = '7a1c3e5f-9b2d-8e4f-a6c8-0d2e4f6a8b0c';
  const res = await startMailout(sendDeps(testConfig(t, ses.url), t), { mailoutId: id, fromNotion: false, dryRun: false, continuation: false });
  expect((await res.run!()).outcome).toBe('complete');
  const { rows } = await t.pool.query<{ email: string; subscriber_id: string }>(`select email, subscriber_id from deliveries where mailout_id = $1`, [id]);
  const byEmail = new Map(rows.map((r) => [r.email, r.subscriber_id]));
  expect(ses.sent).toHaveLength(12);
  for (const call of ses.sent) {
    expect(call.tags).toMatchObject({ mailout_id: id, mode: 'live', subscriber_id: byEmail.get(call.to[0]!) });
  }
});
