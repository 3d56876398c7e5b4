import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

/**
 * `npm start -- --demo` as a newcomer runs it (the same script, in its own process): the
 * URLs and the secret printed, the sample list imported, the sample emails in the SES
 * emulator's inbox; a second run sends nothing. (The test points it at a test database and
 * a folder of its own instead of .data/, so it leaves the clone's local data alone.)
 */
const ROOT = path.join(__dirname, '..', '..');
let t: TestDatabase;
const children: ChildProcess[] = [];

let dataDir: string;

beforeAll(async () => {
  t = await createTestDatabase();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'start-demo-'));
});
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await t.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function startDemo(): Promise<{ output: () => string; sesUrl: string; stop: () => Promise<number | null> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--no-warnings', 'scripts/start.ts', '--demo'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: t.url,
      LOCAL_DATA_DIR: dataDir,
      // Any free ports (no port chosen here can be taken before the stack binds it): the
      // printed URLs are the real ones.
      PORT: '0',
      SES_PORT: '0',
      EXECUTOR_SHARED_SECRET: 'demo-test-secret-0123456789abcdef',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const check = () => {
      if (/demo: open /.test(out)) resolve();
    };
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    void exited.then((code) => reject(new Error(`npm start exited (${code}) before the demo finished:\n${out}`)));
  });
  return {
    output: () => out,
    sesUrl: /SES inbox\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1]!,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

test('npm start -- --demo prints the URLs and the secret, and the sample emails land in the local inbox; a second run sends nothing', async () => {
  const first = await startDemo();
  const out = first.output();
  expect(out).toMatch(/API\s+http:\/\/127\.0\.0\.1:\d+\/api\/\*\s+\(health: ok\)/);
  expect(out).toContain(`SES inbox      ${first.sesUrl}`);
  expect(out).toContain('Secret         demo-test-secret-0123456789abcdef');
  expect(out).toMatch(/curl -X POST http:\/\/127\.0\.0\.1:\d+\/api\/send-mailout/);
  // The local stack answers the sender readiness checks with the emulator's own ready sender.
  expect(out).toMatch(/Sender readiness \(npm run doctor\):\n {2}✔ SES account/);
  expect(out).toContain('✔ DKIM: Easy DKIM signs as example.com (SUCCESS)');
  expect(out).toContain('✔ Ready for a live send');
  expect(out).toMatch(/demo: imported 5 new subscribers \(0 unchanged, 1 rejected, 1 duplicates\)/);
  expect(out).toMatch(/demo: mailout complete: 5 sent, 0 failed/);

  const store = (await (await fetch(`${first.sesUrl}/store`)).json()) as { emails: { destination: { to: string[] }; subject: string }[] };
  expect(store.emails).toHaveLength(5);
  expect(new Set(store.emails.map((e) => e.destination.to[0])).size).toBe(5);
  // The inbox is a web page a person can open.
  const page = await fetch(first.sesUrl);
  expect(page.status).toBe(200);
  expect(page.headers.get('content-type')).toMatch(/text\/html/);
  expect(await first.stop()).toBe(0);

  const second = await startDemo();
  expect(second.output()).toMatch(/demo: imported 0 new subscribers \(5 unchanged/);
  expect(second.output()).toMatch(/demo: duplicate: This mailout was already sent/);
  const again = (await (await fetch(`${second.sesUrl}/store`)).json()) as { emails: unknown[] };
  expect(again.emails).toHaveLength(0);
  expect(await second.stop()).toBe(0);
}, 180_000);
