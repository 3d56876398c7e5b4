import { resetConfig } from '../../lib/config';
import { reportUrl } from '../../lib/report';
import { startMailout } from '../../lib/send';
import { startApiServer, type ApiServer } from '../../scripts/local/api-server';
import { startFakeSes, type FakeSes } from '../../scripts/fakes/ses';
import { createTestDatabase, seedSubscribers, STORED_LETTER, type TestDatabase, copyAllRecipients } from '../helpers/db';
import { letter, sendDeps, testConfig } from './helpers';

/**
 * GET /api/cron/resume and GET /api/report over real HTTP: the api/ folder served as Vercel
 * serves it, a real Postgres, the fake SES. The cron's resume goes through the real
 * continuation call (an authenticated POST to APP_BASE_URL/api/send-mailout).
 */
const SECRET = 'cron-test-executor-secret-0123';
const CRON_SECRET = 'cron-test-cron-secret-0123456';
let t: TestDatabase;
let ses: FakeSes;
let api: ApiServer;
const saved = { ...process.env };

beforeAll(async () => {
  t = await createTestDatabase();
  ses = await startFakeSes({ account: { SendQuota: { Max24HourSend: -1, MaxSendRate: 5000 } } });
  // Port 0: the system picks a free port as the server binds it (no chosen port can be taken first).
  api = await startApiServer({ rootDir: `${__dirname}/../..`, port: 0 });
  Object.assign(process.env, {
    EXECUTOR_SHARED_SECRET: SECRET,
    CRON_SECRET,
    APP_BASE_URL: api.url,
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'AKIDTEST',
    AWS_SECRET_ACCESS_KEY: 'test-secret-key',
    SES_ENDPOINT: ses.url,
    SES_FROM_EMAIL: 'news@example.com',
    DATABASE_URL: t.url,
    RATE_LIMIT_PER_SEC: '1000',
    SEND_CONCURRENCY: '4',
    LOG_LEVEL: 'warn',
  });
  delete process.env.NOTION_TOKEN;
  resetConfig();
});
afterAll(async () => {
  await api.close();
  await ses.close();
  await t.drop();
  process.env = saved;
  resetConfig();
});
beforeEach(async () => {
  ses.reset();
  await t.pool.query('truncate subscribers, mailouts, deliveries, test_sends, ses_events cascade');
});

const cron = (auth?: string) => fetch(`${api.url}/api/cron/resume`, auth ? { headers: { authorization: `Bearer ${auth}` } } : {});

test('the cron refuses callers without its secret, and every call when no secret is configured', async () => {
  expect((await cron()).status).toBe(401);
  const wrong = await cron('not-the-cron-secret-000000');
  expect(wrong.status).toBe(401);
  expect(JSON.stringify(await wrong.json())).not.toContain(CRON_SECRET);

  delete process.env.CRON_SECRET;
  resetConfig();
  try {
    const unset = await cron(CRON_SECRET);
    expect(unset.status).toBe(500);
    expect((await unset.json()).message).toMatch(/CRON_SECRET/);
  } finally {
    process.env.CRON_SECRET = CRON_SECRET;
    resetConfig();
  }
});

test('a mailout whose invocation stopped early and was never continued is finished by the cron, nobody twice', async () => {
  await seedSubscribers(t.pool, 300);
  // An invocation with no time left sends one batch, releases the lease, and its
  // continuation call is lost (none is configured here).
  const config = testConfig(t, ses.url);
  // A Markdown letter (its id is name-based): without Notion configured, its continuation checks no page.
  const deps = sendDeps(config, t, { deadline: () => Date.now(), loadLetter: async () => ({ ...letter(), origin: 'file' }) });
  const res = await startMailout(deps, { mailoutId: '38bbf0ae-d9ad-8eeb-a86b-c67645e91032', fromNotion: false, dryRun: false, continuation: false });
  const first = await res.run!();
  expect(first.outcome).toBe('released');
  expect(ses.sent).toHaveLength(50);
  expect((await cron(CRON_SECRET).then((r) => r.json())).resumed).toEqual(['38bbf0ae-d9ad-8eeb-a86b-c67645e91032']);
  await api.idle();

  const to = ses.sent.map((c) => c.to[0]);
  expect(to).toHaveLength(300);
  expect(new Set(to).size).toBe(300);
  const { rows } = await t.pool.query(`select status, sent from mailouts where id = '38bbf0ae-d9ad-8eeb-a86b-c67645e91032'`);
  expect(rows[0]).toMatchObject({ status: 'sent', sent: 300 });
  // Nothing left: a second cron run resumes nothing.
  expect(await cron(CRON_SECRET).then((r) => r.json())).toEqual({ resumed: [] });
});

test('the report link gives the per-recipient CSV, failures first; a wrong, missing or foreign signature is refused', async () => {
  await seedSubscribers(t.pool, 20);
  const { rows: subs } = await t.pool.query<{ email: string }>('select email from subscribers order by email desc limit 2');
  ses.setFailure({ to: subs.map((s) => s.email), error: 'MessageRejected' });
  const config = testConfig(t, ses.url, { EXECUTOR_SHARED_SECRET: SECRET, APP_BASE_URL: process.env.APP_BASE_URL! });
  const res = await startMailout(sendDeps(config, t), { mailoutId: 'd5969ebd-d414-8708-b51a-0874bf44c00f', fromNotion: false, dryRun: false, continuation: false });
  await res.run!();

  const link = reportUrl(config, 'd5969ebd-d414-8708-b51a-0874bf44c00f');
  const ok = await fetch(link);
  expect(ok.status).toBe(200);
  expect(ok.headers.get('content-type')).toBe('text/csv; charset=utf-8');
  expect(ok.headers.get('content-disposition')).toBe('attachment; filename="mailout-d5969ebd-d414-8708-b51a-0874bf44c00f.csv"');
  expect(ok.headers.get('cache-control')).toBe('no-store');
  const lines = (await ok.text()).trim().split('\r\n');
  expect(lines[0]).toBe('email,status,feedback,error_code,error_message,ses_message_id,attempts,updated_at');
  expect(lines).toHaveLength(21);
  expect(lines.slice(1, 3).map((l) => l.split(',')[1])).toEqual(['failed', 'failed']);
  expect(lines.slice(1, 3).map((l) => l.split(',')[0]).sort()).toEqual(subs.map((s) => s.email).sort());
  expect(lines[1]).toContain('MessageRejected');
  expect(lines.slice(3).every((l) => l.split(',')[1] === 'sent')).toBe(true);

  const url = new URL(link);
  const tampered = new URL(link);
  tampered.searchParams.set('sig', url.searchParams.get('sig')!.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')));
  expect((await fetch(tampered)).status).toBe(401);
  const noSig = new URL(link);
  noSig.searchParams.delete('sig');
  expect((await fetch(noSig)).status).toBe(401);
  // A valid signature for one mailout opens no other.
  const other = new URL(link);
  other.searchParams.set('mailout_id', '32372d07-c118-8a8f-adc1-1f7b36f0ed50');
  expect((await fetch(other)).status).toBe(401);
  // The link names the page: any spelling of it opens the same report; anything else is a 400.
  const upper = new URL(link);
  upper.searchParams.set('mailout_id', 'D5969EBDD4148708B51A0874BF44C00F');
  expect((await fetch(upper)).status).toBe(200);
  const notAnId = new URL(link);
  notAnId.searchParams.set('mailout_id', 'm-report');
  const refused = await fetch(notAnId);
  expect(refused.status).toBe(400);
  expect((await refused.json()).message).toMatch(/Accepted: a Notion page id/);
  const noId = new URL(link);
  noId.searchParams.delete('mailout_id');
  const bad = await fetch(noId);
  expect(bad.status).toBe(400);
  expect((await bad.json()).message).toMatch(/mailout_id/);
  // A signed link for a mailout that never ran: 404, not an empty file.
  const unknown = await fetch(reportUrl(config, '984c5cb7-079c-8bf3-9621-69208a4d0299'));
  expect(unknown.status).toBe(404);
});

test('a report over 4.5 MB (40,000 recipients) is streamed whole: every row, where a buffered answer would be refused', async () => {
  await seedSubscribers(t.pool, 40_000, { prefix: 'a-rather-long-reader-address-for-the-report-' });
  const config = testConfig(t, ses.url, { EXECUTOR_SHARED_SECRET: SECRET, APP_BASE_URL: process.env.APP_BASE_URL! });
  const mailoutId = '0d4e5f60-7182-4394-a5b6-c7d8e9f0a1b2';
  await t.ledger.claim(mailoutId, { leaseSeconds: 60, content: STORED_LETTER });
  await copyAllRecipients(t.pool, mailoutId);
  await t.pool.query(`update deliveries set status = 'sent', ses_message_id = '0100018c-' || subscriber_id || '-000000', attempts = 1 where mailout_id = $1`, [mailoutId]);
  const res = await fetch(reportUrl(config, mailoutId));
  expect(res.status).toBe(200);
  const csv = Buffer.from(await res.arrayBuffer());
  expect(csv.length).toBeGreaterThan(4.5 * 1024 * 1024);
  const lines = csv.toString('utf8').split('\r\n');
  expect(lines).toHaveLength(40_000 + 2);
  expect(new Set(lines.slice(1, -1).map((l) => l.split(',')[0])).size).toBe(40_000);
});
