import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { verifyReportLink } from '../../lib/report';
import { startFakePostgrest } from '../../scripts/fakes/postgrest';
import { createTestDatabase, seedSubscribers, STORED_LETTER, type TestDatabase, copyAllRecipients } from '../helpers/db';
import { readReport } from './read-report';

/** `npm run report -- MAILOUT [--link]`: the CSV on standard output, or the fresh link the 410 of an expired one points to. */
const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');
const MAILOUT = '5b6c7d8e-9fa0-4b1c-8d2e-3f4a5b6c7d8e';
let t: TestDatabase;

beforeAll(async () => {
  t = await createTestDatabase();
  await t.pool.query(`insert into mailouts (id, status) values ($1, 'sent')`, [MAILOUT]);
});
afterAll(async () => {
  await t.drop();
});

const env = () => ({
  PATH: process.env.PATH,
  EXECUTOR_SHARED_SECRET: 'report-cli-executor-secret-0123',
  REPORT_SECRET: 'report-cli-report-secret-01234567',
  REPORT_LINK_DAYS: '3',
  APP_BASE_URL: 'https://m.example.com',
  AWS_REGION: 'eu-west-1',
  SES_FROM_EMAIL: 'news@example.com',
  DATABASE_URL: t.url,
});

test('--link prints a fresh signed link valid for REPORT_LINK_DAYS', async () => {
  const { stdout, stderr } = await run(TSX, ['scripts/report.ts', MAILOUT, '--link'], { cwd: ROOT, env: env() });
  const link = new URL(stdout.trim());
  expect(link.origin + link.pathname).toBe('https://m.example.com/api/report');
  expect(verifyReportLink({ reportSecret: env().REPORT_SECRET }, link.searchParams)).toBe(MAILOUT);
  expect(Number(link.searchParams.get('exp')) * 1000).toBeGreaterThan(Date.now() + 2 * 86_400_000);
  expect(Number(link.searchParams.get('exp')) * 1000).toBeLessThanOrEqual(Date.now() + 3 * 86_400_000 + 60_000);
  expect(stderr).toMatch(/valid for 3 days/);
});

test('--link for a mailout that does not exist fails instead of printing a link to a 404', async () => {
  const err = await run(TSX, ['scripts/report.ts', '00000000-0000-4000-8000-000000000000', '--link'], { cwd: ROOT, env: env() }).catch((e: { code: number; stderr: string }) => e);
  expect(err).toMatchObject({ code: 1 });
  expect((err as { stderr: string }).stderr).toMatch(/No mailout/);
});

test('the CSV goes to standard output page by page through SUPABASE_URL: BOM, header and every row, the same bytes as through DATABASE_URL', async () => {
  const mailout = '6c7d8e9f-a0b1-4c2d-9e3f-4a5b6c7d8e9f';
  await seedSubscribers(t.pool, 2100, { prefix: 'cli' });
  await t.ledger.claim(mailout, { leaseSeconds: 60, content: STORED_LETTER });
  await copyAllRecipients(t.pool, mailout);
  const key = 'service-role-key-for-report-cli-0123456789';
  const rest = await startFakePostgrest(t.url, key);
  try {
    const { DATABASE_URL: _direct, ...others } = env();
    const { stdout, stderr } = await run(TSX, ['scripts/report.ts', mailout], {
      cwd: ROOT,
      env: { ...others, SUPABASE_URL: rest.url, SUPABASE_SERVICE_ROLE_KEY: key },
      encoding: 'buffer',
      maxBuffer: 64 * 1024 * 1024,
    });
    expect(String(stderr)).toMatch(/^2100 recipients \(Supabase /);
    expect([...stdout.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    expect(stdout.toString('utf8').split('\r\n')).toHaveLength(2100 + 2);
    expect(stdout.equals(Buffer.from((await readReport(t.db, mailout)).csv))).toBe(true);
    // More than one page was asked for, each within PostgREST's 1,000 rows.
    expect(rest.requests.filter((r) => r.path === '/rest/v1/rpc/mailout_report_page').length).toBeGreaterThan(3);
  } finally {
    await rest.close();
  }
});
