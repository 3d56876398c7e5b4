import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

/** `npm run send`: an option it does not know is refused before anything is read or sent. */
const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');

test.each([
  [['scripts/demo/mailout.md', '--dryrun'], /Unknown option --dryrun: nothing was sent/],
  [['scripts/demo/mailout.md', '--tset'], /Unknown option --tset: nothing was sent/],
  [['scripts/demo/mailout.md', 'second-page'], /usage: npm run send/],
])('npm run send -- %j exits 2 without sending (a mistyped --dry-run is not a live send)', async (args, message) => {
  const err = await run(TSX, ['scripts/send.ts', ...args], { cwd: ROOT, env: { PATH: process.env.PATH } }).catch((e: { code: number; stderr: string }) => e);
  expect(err).toMatchObject({ code: 2 });
  expect((err as { stderr: string }).stderr).toMatch(message);
});
