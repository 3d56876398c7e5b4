import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../scripts/db/embedded';

/**
 * A real PgBouncer in transaction mode in front of the test Postgres, as Supabase's pooler
 * on port 6543 is: each transaction may run on another server connection, so anything kept
 * in a session between transactions (a session advisory lock, SET, a named prepared
 * statement, a temp table) is lost or lands on someone else's connection.
 *
 * Started like the embedded Postgres: a free port, its own config and auth files in a temp
 * folder, stopped at the end. As root it runs as the `postgres` user (PgBouncer refuses to run
 * as root), so that folder belongs to that user.
 */
export interface PgBouncer {
  port: number;
  /** `serverUrl` with PgBouncer's address in place of Postgres'. */
  urlFor(serverUrl: string): string;
  stop(): Promise<void>;
}

export interface PgBouncerOptions {
  /** Any database on this server is reachable through PgBouncer under its own name. */
  serverUrl: string;
  /** Server connections per database and user (Supabase's "Pool Size"). */
  poolSize: number;
  /** Where to look for the binary (default: pgbouncerCandidates()). */
  candidates?: string[];
}

const INSTALL = 'apt-get install -y pgbouncer (Debian\'s package; CI installs it), or set PGBOUNCER_PATH to its binary';
const RUN_AS = 'postgres';

/** Where PgBouncer is looked for: PGBOUNCER_PATH when set, else where Debian's package puts it. */
export function pgbouncerCandidates(): string[] {
  return process.env.PGBOUNCER_PATH ? [process.env.PGBOUNCER_PATH] : ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer'];
}

function pgbouncerBinary(candidates: string[]): string {
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found) throw new Error(`PgBouncer is not installed (looked for ${candidates.join(', ')}): ${INSTALL}.`);
  return found;
}

function runAsUser(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  const id = (flag: string) => Number(execFileSync('id', [flag, RUN_AS]).toString().trim());
  return { uid: id('-u'), gid: id('-g') };
}

function config(dir: string, server: URL, port: number, poolSize: number): string {
  return [
    '[databases]',
    `* = host=${server.hostname} port=${server.port}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'pool_mode = transaction',
    `default_pool_size = ${poolSize}`,
    'max_client_conn = 200',
    'auth_type = scram-sha-256',
    `auth_file = ${path.join(dir, 'users.txt')}`,
    // What Supavisor does not do either: nothing resets a session between two clients.
    'server_reset_query =',
    'log_connections = 0',
    'log_disconnections = 0',
    '',
  ].join('\n');
}

function launch(bin: string, ini: string, who: { uid: number; gid: number } | null): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const args = who ? ['-u', RUN_AS, ini] : [ini];
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    // A test file that dies leaves no PgBouncer behind.
    const stopOnExit = () => child.kill('SIGTERM');
    process.once('exit', stopOnExit);
    child.once('exit', () => process.removeListener('exit', stopOnExit));
    let output = '';
    const onData = (d: Buffer) => {
      output += d.toString();
      if (output.includes('process up')) resolve(child);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('error', (err) => reject(new Error(`Could not run ${bin}: ${err.message}. ${INSTALL}.`)));
    child.on('exit', (code, signal) => reject(Object.assign(new Error(`PgBouncer exited at start (${signal ?? `exit ${code}`}):\n${output.trim()}`), { output })));
  });
}

export async function startPgBouncer(opts: PgBouncerOptions): Promise<PgBouncer> {
  const bin = pgbouncerBinary(opts.candidates ?? pgbouncerCandidates());
  const server = new URL(opts.serverUrl);
  const who = runAsUser();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailout-pgbouncer-'));
  fs.chmodSync(dir, 0o755);
  const users = path.join(dir, 'users.txt');
  fs.writeFileSync(users, `"${decodeURIComponent(server.username)}" "${decodeURIComponent(server.password)}"\n`, { mode: 0o600 });
  if (who) fs.chownSync(users, who.uid, who.gid);
  // A port chosen here can be taken before PgBouncer binds it: then another one is tried.
  for (let attempt = 1; ; attempt += 1) {
    const port = await freePort();
    const ini = path.join(dir, 'pgbouncer.ini');
    fs.writeFileSync(ini, config(dir, server, port, opts.poolSize), { mode: 0o644 });
    try {
      const child = await launch(bin, ini, who);
      return pgbouncer(child, port, dir);
    } catch (err) {
      const output = (err as { output?: string }).output ?? '';
      if (!/Address already in use/.test(output) || attempt >= 5) {
        fs.rmSync(dir, { recursive: true, force: true });
        throw err;
      }
    }
  }
}

function pgbouncer(child: ChildProcess, port: number, dir: string): PgBouncer {
  return {
    port,
    urlFor(serverUrl) {
      const u = new URL(serverUrl);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        // SIGTERM: immediate shutdown (SIGINT would wait for every client to leave).
        await new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        });
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
