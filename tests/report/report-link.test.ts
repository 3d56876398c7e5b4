import { createHmac, randomUUID } from 'node:crypto';
import { GET } from '../../api/report';
import { resetConfig } from '../../lib/config';
import { csvCell, startsLikeFormula } from '../../lib/csv';
import { AppError } from '../../lib/errors';
import { reportUrl, verifyReportLink } from '../../lib/report';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

/**
 * The report link (GET /api/report) expires, and every CSV cell a spreadsheet could run as a
 * formula is neutralised: the handler with a real Postgres, the link checked as a browser
 * would present it.
 */
const REPORT_SECRET = 'report-link-test-secret-0123456789';
const MAILOUT = '7a1f3c2e-9b4d-4e8f-a6c1-2d3e4f5a6b7c';
const DAY = 86_400_000;
const config = { appBaseUrl: 'https://m.example.com', reportSecret: REPORT_SECRET, reportLinkDays: 30 };
let t: TestDatabase;
const saved = { ...process.env };

beforeAll(async () => {
  t = await createTestDatabase();
  Object.assign(process.env, {
    EXECUTOR_SHARED_SECRET: 'report-link-executor-secret-0123',
    REPORT_SECRET,
    APP_BASE_URL: 'https://m.example.com',
    AWS_REGION: 'eu-west-1',
    SES_FROM_EMAIL: 'news@example.com',
    DATABASE_URL: t.url,
    LOG_LEVEL: 'error',
  });
  delete process.env.REPORT_LINK_DAYS;
  resetConfig();
  await t.pool.query(`insert into mailouts (id, status, recipients) values ($1, 'sent', 4)`, [MAILOUT]);
  const rows: [string, string, string | null][] = [
    [' =1+4@example.com', 'failed', ' =HYPERLINK("http://evil")'],
    ['a@example.com', 'failed', '＝1+4'],
    ['b@example.com', 'failed', '\t@SUM(A1)'],
    ['c@example.com', 'sent', null],
  ];
  for (const [email, status, msg] of rows) {
    await t.pool.query(
      `insert into deliveries (mailout_id, subscriber_id, email, status, error_code, error_message) values ($1, $2, $3, $4, $5, $6)`,
      [MAILOUT, randomUUID(), email, status, status === 'failed' ? 'MessageRejected' : null, msg],
    );
  }
});
afterAll(async () => {
  await t.drop();
  process.env = saved;
  resetConfig();
});

const get = (url: string) => GET(new Request(url));

test('a link carries an expiry 30 days out by default (REPORT_LINK_DAYS), and opens the CSV until then', async () => {
  const now = Date.now();
  const link = new URL(reportUrl(config, MAILOUT, now));
  expect(Number(link.searchParams.get('exp'))).toBe(Math.floor(now / 1000) + 30 * 86_400);
  expect(new URL(reportUrl({ ...config, reportLinkDays: 2 }, MAILOUT, now)).searchParams.get('exp')).toBe(String(Math.floor(now / 1000) + 2 * 86_400));
  const res = await get(link.toString());
  expect(res.status).toBe(200);
  expect((await res.text()).split('\r\n')[0]).toBe('email,status,feedback,error_code,error_message,ses_message_id,attempts,updated_at');
});

test('an expired link answers 410 saying how to get a fresh one (Notion page or npm run report -- ID --link)', async () => {
  const old = reportUrl(config, MAILOUT, Date.now() - 31 * DAY);
  const res = await get(old);
  expect(res.status).toBe(410);
  const body = (await res.json()) as { error: string; message: string };
  expect(body.error).toBe('gone');
  expect(body.message).toMatch(/expired on \d{4}-\d{2}-\d{2}/);
  expect(body.message).toContain('Notion page');
  expect(body.message).toContain(`npm run report -- ${MAILOUT} --link`);
});

test('a link made before links expired (no exp) is gone, not valid forever', async () => {
  const legacySig = createHmac('sha256', REPORT_SECRET).update(`report:${MAILOUT}`).digest('base64url');
  const res = await get(`https://m.example.com/api/report?mailout_id=${MAILOUT}&sig=${legacySig}`);
  expect(res.status).toBe(410);
});

test('moving the expiry, or a signature for another mailout, is refused as 401 (the signature covers both)', async () => {
  const link = new URL(reportUrl(config, MAILOUT, Date.now() - 31 * DAY));
  link.searchParams.set('exp', String(Math.floor(Date.now() / 1000) + 3600));
  expect((await get(link.toString())).status).toBe(401);
  const other = new URL(reportUrl(config, MAILOUT));
  other.searchParams.set('mailout_id', randomUUID());
  expect((await get(other.toString())).status).toBe(401);
  const q = new URLSearchParams({ mailout_id: MAILOUT, exp: 'soon', sig: 'x' });
  expect(() => verifyReportLink(config, q)).toThrow(AppError);
});

test('report CSV: a formula after leading whitespace, in full-width form or after a tab is neutralised', async () => {
  const csv = await (await get(reportUrl(config, MAILOUT))).text();
  const lines = csv.trim().split('\r\n').slice(1);
  expect(lines.find((l) => l.includes('1+4@example.com'))).toMatch(/^' =1\+4@example\.com,failed,.*"' =HYPERLINK\(""http:\/\/evil""\)"/);
  expect(lines.find((l) => l.startsWith('a@example.com'))).toContain(`,'＝1+4,`);
  expect(lines.find((l) => l.startsWith('b@example.com'))).toContain(`,"'\t@SUM(A1)",`);
});

test.each([
  ['=1+4', true],
  [' =1+4', true],
  ['\u00a0\u3000+1', true],
  ['\u200b-1', true],
  ['＝1+4', true],
  ['＋1', true],
  ['－1', true],
  ['＠SUM(A1)', true],
  ['\t1', true],
  ['\r1', true],
  ['\u22121', true],
  ['Anna', false],
  ['a=b', false],
  ['', false],
  ['   ', false],
])('startsLikeFormula(%j) is %s', (value, expected) => {
  expect(startsLikeFormula(value)).toBe(expected);
  expect(csvCell(value).replace(/^"/, '').startsWith("'")).toBe(expected);
});
