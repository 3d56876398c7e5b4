import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { cronSchedule, scheduleResume, unscheduleResume } from '../../scripts/setup/cron';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { installSupabaseExtensionStubs } from '../fakes/supabase-extensions';

/**
 * The resume safety net for Vercel Hobby: a pg_cron job calling /api/cron/resume through
 * pg_net with CRON_SECRET from Vault. The migration applies on a plain Postgres (this one
 * has no pg_cron or pg_net); scheduling refuses there, naming what is missing. With the
 * extensions stood in for (tests/fakes/supabase-extensions.ts), the job, the secret and the
 * request the job makes are checked.
 */
const ROOT = path.resolve(__dirname, '../..');
const SECRET = 'cron-secret-for-the-schedule-test-0123';
const MAILOUT = '11111111-2222-4333-8444-555555555555';
let plain: TestDatabase;
let supa: TestDatabase;

beforeAll(async () => {
  plain = await createTestDatabase();
  supa = await createTestDatabase();
  await installSupabaseExtensionStubs(supa.pool);
});

afterAll(async () => {
  await plain.drop();
  await supa.drop();
});

async function runJob(t: TestDatabase): Promise<{ url: string; headers: Record<string, string>; timeout_milliseconds: number }[]> {
  const { rows } = await t.pool.query<{ command: string }>(`select command from cron.job where jobname = 'mailout-resume'`);
  expect(rows).toHaveLength(1);
  await t.pool.query(rows[0]!.command);
  return (await t.pool.query('select url, headers, timeout_milliseconds from net.recorded_requests order by id')).rows;
}

test('without pg_cron and pg_net, scheduling is refused with what to enable; the idle check still answers', async () => {
  await expect(scheduleResume(plain.url, { appBaseUrl: 'https://mail.example.com', cronSecret: SECRET })).rejects.toMatchObject({
    code: 'MR002',
    message: expect.stringMatching(/no pg_cron, pg_net, supabase_vault/),
    hint: expect.stringMatching(/Database -> Extensions.*\*\/5 \* \* \* \*/s),
  });
  // Nothing due: the job would not touch pg_net or Vault at all.
  const { rows } = await plain.pool.query(`select public.mailout_resume_tick('https://mail.example.com/api/cron/resume') as id`);
  expect(rows[0].id).toBeNull();
});

test('npm run setup:cron explains the refusal and exits 1; without CRON_SECRET it exits 2', async () => {
  const run = (env: Record<string, string>) =>
    promisify(execFile)(path.join(ROOT, 'node_modules/.bin/tsx'), ['scripts/setup-cron.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code: number; stderr: string }) => ({ code: err.code, stderr: err.stderr }),
    );
  const refused = await run({ DATABASE_URL: plain.url, APP_BASE_URL: 'https://mail.example.com', CRON_SECRET: SECRET });
  expect(refused.code).toBe(1);
  expect(refused.stderr).toMatch(/no pg_cron, pg_net/);
  expect(refused.stderr).not.toContain(SECRET);
  const noSecret = await run({ DATABASE_URL: plain.url, APP_BASE_URL: 'https://mail.example.com' });
  expect(noSecret).toMatchObject({ code: 2, stderr: expect.stringMatching(/Set CRON_SECRET/) });
});

test('the job keeps the secret in Vault, and calls /api/cron/resume only when a lease has expired', async () => {
  const result = await scheduleResume(supa.url, { appBaseUrl: 'https://mail.example.com/', cronSecret: SECRET });
  expect(result).toMatch(/mailout-resume \(\* \* \* \* \*\) calls https:\/\/mail\.example\.com\/api\/cron\/resume/);
  const job = (await supa.pool.query(`select schedule, command from cron.job where jobname = 'mailout-resume'`)).rows[0];
  expect(job.schedule).toBe('* * * * *');
  expect(job.command).not.toContain(SECRET);
  expect((await supa.pool.query(`select secret from vault.secrets where name = 'mailout_cron_secret'`)).rows).toEqual([{ secret: SECRET }]);

  // Idle: no request.
  expect(await runJob(supa)).toEqual([]);

  // A mailout left `sending` by a dead invocation, lease expired: one authenticated GET.
  await supa.pool.query(`insert into mailouts (id, status, lease_until) values ($1, 'sending', now() - interval '1 minute')`, [MAILOUT]);
  expect(await runJob(supa)).toEqual([
    { url: 'https://mail.example.com/api/cron/resume', headers: { Authorization: `Bearer ${SECRET}` }, timeout_milliseconds: 30000 },
  ]);

  // A live lease is not due.
  await supa.pool.query(`delete from net.recorded_requests`);
  await supa.pool.query(`update mailouts set lease_until = now() + interval '2 minutes' where id = $1`, [MAILOUT]);
  expect(await runJob(supa)).toEqual([]);
});

test('running setup again replaces the job and the secret; removing it leaves neither', async () => {
  await scheduleResume(supa.url, { appBaseUrl: 'https://mail.example.com', cronSecret: SECRET });
  await scheduleResume(supa.url, { appBaseUrl: 'https://new.example.com', cronSecret: `${SECRET}-rotated`, everyMinutes: 2 });
  expect((await supa.pool.query(`select schedule, command from cron.job`)).rows).toEqual([
    { schedule: '*/2 * * * *', command: `select public.mailout_resume_tick('https://new.example.com/api/cron/resume')` },
  ]);
  expect((await supa.pool.query(`select secret from vault.secrets where name = 'mailout_cron_secret'`)).rows).toEqual([{ secret: `${SECRET}-rotated` }]);

  expect(await unscheduleResume(supa.url)).toBe(true);
  expect((await supa.pool.query(`select count(*)::int n from cron.job`)).rows[0].n).toBe(0);
  expect((await supa.pool.query(`select count(*)::int n from vault.secrets`)).rows[0].n).toBe(0);
  expect(await unscheduleResume(supa.url)).toBe(false);
});

test('bad settings are refused before anything is stored', async () => {
  expect(() => cronSchedule(0)).toThrow(/1 to 59/);
  expect(cronSchedule(5)).toBe('*/5 * * * *');
  await expect(scheduleResume(supa.url, { appBaseUrl: 'mail.example.com', cronSecret: SECRET })).rejects.toThrow(/APP_BASE_URL/);
  await expect(scheduleResume(supa.url, { appBaseUrl: 'https://mail.example.com', cronSecret: 'short' })).rejects.toThrow(/CRON_SECRET/);
  expect((await supa.pool.query(`select count(*)::int n from cron.job`)).rows[0].n).toBe(0);
});
