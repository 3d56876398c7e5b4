import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { verifyReportLink } from '../../lib/report';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

/** `npm run report -- MAILOUT --link`: the fresh link the 410 of an expired one points to. */
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
