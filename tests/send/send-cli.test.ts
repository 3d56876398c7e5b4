import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { cleanCliEnv, runCommand } from '../helpers/run';

/** `npm run send` as an operator runs it: its exit code says whether the letter went out. */
const ROOT = path.resolve(__dirname, '..', '..');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');
let t: TestDatabase;
let dir: string;

beforeAll(async () => {
  t = await createTestDatabase();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'send-cli-'));
});
afterAll(async () => {
  await t.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('send --test without AWS credentials prints why and exits 1', async () => {
  const letter = path.join(dir, '11111111-2222-4333-8444-555555555555.md');
  fs.writeFileSync(letter, '# Hello\n\nA test letter.\n');
  const result = await runCommand(TSX, [path.join(ROOT, 'scripts', 'send.ts'), letter, '--test'], {
    cwd: ROOT,
    env: {
      // No credentials anywhere the AWS SDK looks (and no SES_ENDPOINT, against which local
      // dummy keys are used): the SDK fails before any request leaves the machine.
      ...cleanCliEnv(),
      LOG_LEVEL: 'error',
      DATABASE_URL: t.url,
      EXECUTOR_SHARED_SECRET: 'send-cli-secret-0123456789abcdef',
      APP_BASE_URL: 'https://mailout.example.com',
      AWS_REGION: 'eu-west-1',
      SES_FROM_EMAIL: 'news@example.com',
      FOOTER_ADDRESS: 'Example Publishing, 1 Main St',
      TEST_EMAILS: 'editor@example.com,second@example.com',
    },
  });
  expect(result.stderr).toMatch(/The test send failed for 2 of 2 recipients: \S+/);
  expect(result.stderr).toMatch(/credential/i);
  expect(result.code).toBe(1);
  expect(JSON.parse(result.stdout)).toMatchObject({ outcome: 'test_sent', recipients: 2, sent: 0 });
});

test.each([
  [['scripts/demo/mailout.md', '--dryrun'], /Unknown option --dryrun: nothing was sent/],
  [['scripts/demo/mailout.md', '--tset'], /Unknown option --tset: nothing was sent/],
  [['scripts/demo/mailout.md', 'second-page'], /usage: npm run send/],
])('npm run send -- %j exits 2 without sending (a mistyped --dry-run is not a live send)', async (args, message) => {
  const result = await runCommand(TSX, [path.join(ROOT, 'scripts', 'send.ts'), ...args], { cwd: ROOT, env: cleanCliEnv() });
  expect(result.code).toBe(2);
  expect(result.stderr).toMatch(message);
});
