import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startLocalStack } from '../../scripts/local/stack';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

/**
 * Another program holds the SES emulator's or the API's port: the local stack never sends to
 * it. A port asked for (SES_PORT, PORT) fails with what to do; the default port gives way
 * to a free one, and the real URL is the one used and printed.
 */
const ROOT = path.join(__dirname, '..', '..');
let t: TestDatabase;
let squatter: http.Server;
let squatterPort: number;
let squatterHits = 0;
let dataDir: string;

beforeAll(async () => {
  t = await createTestDatabase();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'busy-ports-'));
  squatter = http.createServer((_req, res) => {
    squatterHits += 1;
    res.end('not the SES emulator');
  });
  await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
  squatterPort = (squatter.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise((resolve) => squatter.close(resolve));
  await t.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const stackEnv = (): NodeJS.ProcessEnv => ({ DATABASE_URL: t.url, EXECUTOR_SHARED_SECRET: 'busy-port-secret-0123456789abcdef' });

test('a busy SES_PORT that was asked for fails with what to do, and nothing is left listening', async () => {
  const err = await startLocalStack({ rootDir: ROOT, env: stackEnv(), persistent: false, sesPort: squatterPort }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(Error);
  expect((err as Error).message).toBe(
    `The SES emulator cannot listen on port ${squatterPort}: another program holds it. Stop that program, or set SES_PORT to a free port (SES_PORT=0 picks one).`,
  );
  expect(squatterHits).toBe(0);
});

test('a busy default SES port gives way to a free one: the stack sends to its own emulator and says where it is', async () => {
  const logs: string[] = [];
  const env = stackEnv();
  const stack = await startLocalStack({ rootDir: ROOT, env, persistent: false, preferredSesPort: squatterPort, onLog: (l) => logs.push(l) });
  try {
    expect(new URL(stack.sesUrl).port).not.toBe(String(squatterPort));
    expect(env.SES_ENDPOINT).toBe(stack.sesUrl);
    expect(stack.inboxUrl).toBe(stack.sesUrl);
    expect(logs).toContain(`port ${squatterPort} is busy: the SES emulator listens on ${new URL(stack.sesUrl).port}`);
    const inbox = await fetch(`${stack.sesUrl}/store`);
    expect(inbox.status).toBe(200);
    expect(await inbox.json()).toMatchObject({ emails: [] });
  } finally {
    await stack.stop();
  }
  expect(squatterHits).toBe(0);
});

test('a busy default API port gives way to a free one, and APP_BASE_URL follows it', async () => {
  const logs: string[] = [];
  const env = stackEnv();
  const stack = await startLocalStack({ rootDir: ROOT, env, persistent: false, preferredPort: squatterPort, onLog: (l) => logs.push(l) });
  try {
    expect(stack.api.port).not.toBe(squatterPort);
    expect(env.APP_BASE_URL).toBe(stack.apiUrl);
    expect(logs).toContain(`port ${squatterPort} is busy: the API listens on ${stack.api.port}`);
    expect(squatterHits).toBe(0);
    // The stack's own server answers (an unknown route: 404), not the program on the busy port.
    expect((await fetch(`${stack.apiUrl}/api/no-such-route`)).status).toBe(404);
  } finally {
    await stack.stop();
  }
});

test('npm start with a busy SES_PORT exits 1 with the message, before printing any inbox URL', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', '--no-warnings', 'scripts/start.ts', '--demo'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, ...stackEnv(), LOCAL_DATA_DIR: dataDir, PORT: '0', SES_PORT: String(squatterPort), LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  expect(code).toBe(1);
  expect(out).toContain(`npm start failed: The SES emulator cannot listen on port ${squatterPort}: another program holds it.`);
  expect(out).not.toContain('SES inbox');
  expect(out).not.toContain('demo:');
  expect(squatterHits).toBe(0);
});
