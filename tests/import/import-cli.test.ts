import { execFile } from 'node:child_process';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { csv, fixtureDir, readReport } from './fixtures';

const ROOT = path.resolve(__dirname, '../..');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');

let t: TestDatabase;
const fx = fixtureDir('import-cli-');
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t.drop();
  fx.cleanup();
});

/** `npm run import -- ...` as a user runs it, with only the given database variables set. */
function runImport(args: string[], dbEnv: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/^(SUPABASE_|DATABASE_URL|EXECUTOR_|NOTION_|AWS_|SES_)/.test(k)) env[k] = v;
  }
  return new Promise((resolve) => {
    execFile(TSX, ['scripts/import.ts', ...args], { cwd: ROOT, env: { ...env, ...dbEnv }, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

test('imports a file through DATABASE_URL: summary on stdout, progress lines on stderr (no TTY), rejected rows report, exit 0', async () => {
  const file = fx.write(
    'export.csv',
    '\uFEFF' +
      csv(
        [
          ['Email', 'Name', 'Campaign', 'ip'],
          ['one@example.com', 'Один', 'main', '1.1.1.1'],
          ['ONE@example.com', 'dup', 'main', ''],
          ['two@example.com', '"Two, Second"', 'main', ''],
          ['not-an-email', 'Bad', 'main', ''],
        ],
        ',',
        '\r\n',
      ),
  );
  const report = path.join(fx.dir, 'rejected.csv');
  const r = await runImport([file, '--report', report], { DATABASE_URL: t.url });
  expect(r.stderr).toMatch(/progress 100%: 4 read, 2 written, 1 rejected, 1 duplicates/);
  expect(r.stdout).toMatch(/Import finished/);
  expect(r.stdout).toMatch(/read\s+4\n/);
  expect(r.stdout).toMatch(/inserted\s+2\n/);
  expect(r.stdout).toMatch(/updated\s+0\n/);
  expect(r.stdout).toMatch(/unchanged\s+0\n/);
  expect(r.stdout).toMatch(/rejected\s+1\n/);
  expect(r.stdout).toMatch(/duplicates\s+1\n/);
  expect(r.code).toBe(0);
  expect(readReport(report)).toEqual([{ line: '5', email: 'not-an-email', name: 'Bad', reason: 'missing @' }]);
  const { rows } = await t.pool.query('select email, name, source, status from subscribers order by email');
  expect(rows).toEqual([
    { email: 'one@example.com', name: 'Один', source: 'main', status: 'active' },
    { email: 'two@example.com', name: 'Two, Second', source: 'main', status: 'active' },
  ]);

  // Again, as a dry run with a JSON summary: everything is unchanged and nothing is written.
  const again = await runImport([file, '--dry-run', '--json'], { DATABASE_URL: t.url });
  expect(again.code).toBe(0);
  expect(JSON.parse(again.stdout)).toMatchObject({ dryRun: true, read: 4, inserted: 0, updated: 0, unchanged: 2, rejected: 1, duplicates: 1 });
});

test('exit 1 with a clear message when the file has no email column or cannot be read', async () => {
  const noEmail = fx.write('no-email.csv', csv([['name', 'phone'], ['Anna', '1']]));
  const a = await runImport([noEmail], { DATABASE_URL: t.url });
  expect(a.code).toBe(1);
  expect(a.stderr).toMatch(/Import failed: No email column .*"name", "phone"/);

  const b = await runImport([path.join(fx.dir, 'missing.csv')], { DATABASE_URL: t.url });
  expect(b.code).toBe(1);
  expect(b.stderr).toMatch(/Import failed: Cannot read .*missing\.csv: no such file/);
});

test('exit 2 naming the variables to set when no database is configured; usage errors exit 2', async () => {
  const file = fx.write('any.csv', csv([['email'], ['x@example.com']]));
  const r = await runImport([file], {});
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/SUPABASE_URL/);
  expect(r.stderr).toMatch(/SUPABASE_SERVICE_ROLE_KEY/);
  expect(r.stderr).toMatch(/DATABASE_URL/);

  const u = await runImport([], {});
  expect(u.code).toBe(2);
  expect(u.stderr).toMatch(/Usage: npm run import/);
});
