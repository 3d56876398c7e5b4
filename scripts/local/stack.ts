import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type { Server } from 'node:http';
import path from 'node:path';
import { Client } from 'pg';
import { env as variable, resetConfig } from '../../lib/config';
import { startEmbeddedPostgres, type EmbeddedServer } from '../db/embedded';
import { migrate } from '../db/migrate';
import { startApiServer, type ApiServer, type ApiServerOptions } from './api-server';
import { startLocalSender, type LocalSenderEnv } from './ready-sender';

/**
 * The local stack (`npm start`): an embedded Postgres (unless DATABASE_URL or Supabase is
 * set), the `aws-ses-v2-local` SES emulator (unless SES_ENDPOINT is set), and every api/
 * route served as Vercel serves it. Fills in local defaults for every required variable
 * that is not set, and writes them into process.env for the handlers to read.
 */

export interface LocalStackOptions {
  rootDir: string;
  /** Where Postgres keeps its data; `.data/` by default. */
  dataDir?: string;
  /** The API's port: exactly this one (0: any free port); see `preferredPort`. */
  port?: number;
  /** A port to use when free, else any free port (`npm start`'s 3000 when PORT is not set). */
  preferredPort?: number;
  /** The SES emulator's port: exactly this one (0 or unset: any free port). */
  sesPort?: number;
  /** A port to use when free, else any free port (`npm start`'s 8005 when SES_PORT is not set). */
  preferredSesPort?: number;
  /** Keep Postgres data between runs (the local stack) or throw it away (tests). */
  persistent?: boolean;
  env?: NodeJS.ProcessEnv;
  maxDurationSeconds?: number;
  onLog?: (line: string) => void;
  /** Handlers to serve instead of some routes' files (tests); see ApiServerOptions.routes. */
  routes?: ApiServerOptions['routes'];
}

export interface LocalStack {
  apiUrl: string;
  sesUrl: string;
  /** The emulator's web inbox, when this stack started the emulator. */
  inboxUrl?: string;
  databaseUrl?: string;
  secret: string;
  api: ApiServer;
  stop(): Promise<void>;
}

async function ensureDatabase(adminUrl: string, name: string): Promise<string> {
  const c = new Client({ connectionString: adminUrl });
  await c.connect();
  try {
    const { rowCount } = await c.query('select 1 from pg_database where datname = $1', [name]);
    if (!rowCount) await c.query(`create database ${name}`);
  } finally {
    await c.end();
  }
  return adminUrl.replace(/\/[^/]*$/, `/${name}`);
}

function localSecret(dataDir: string, persistent: boolean): string {
  const file = path.join(dataDir, 'executor-secret');
  if (persistent && fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim();
  const secret = randomBytes(24).toString('hex');
  if (persistent) {
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(file, secret, { mode: 0o600 });
  }
  return secret;
}

export class PortInUseError extends Error {
  constructor(
    readonly what: string,
    readonly port: number,
    readonly variable: string,
  ) {
    super(`${what} cannot listen on port ${port}: another program holds it. Stop that program, or set ${variable} to a free port (${variable}=0 picks one).`);
  }
}

function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections?.();
  });
}

/** The configuration set the local stack's sends name (the emulator keeps none; ready-sender answers for it). */
const LOCAL_CONFIGURATION_SET = 'mailout-local';

/**
 * The SES emulator on `port` (0: any free port). Its `listen` reports no error (Express 5
 * hands it to a callback the emulator ignores), so whether it really listens is checked here:
 * a busy port must never mean sending to whatever holds it.
 */
export async function startSesEmulator(
  port: number,
): Promise<{ url: string; port: number; close(): Promise<void>; env: LocalSenderEnv & { SES_CONFIGURATION_SET: string }; subscribe(appBaseUrl: string, topicArn?: string): void }> {
  const mod = (await import('aws-ses-v2-local')) as unknown as { default: (c: { host: string; port: number }) => Promise<Server> };
  const server = await mod.default({ host: '127.0.0.1', port });
  const address = server.address();
  if (!server.listening || typeof address !== 'object' || !address) {
    await closeServer(server).catch(() => undefined);
    throw new PortInUseError('The SES emulator', port, 'SES_PORT');
  }
  // The readiness checks' answers (scripts/local/ready-sender.ts): the emulator sends as anyone.
  const sender = await startLocalSender(server);
  return {
    url: `http://127.0.0.1:${address.port}`,
    port: address.port,
    close: async () => {
      await sender.close();
      await closeServer(server);
    },
    env: { ...sender.env, SES_CONFIGURATION_SET: LOCAL_CONFIGURATION_SET },
    subscribe: sender.subscribe,
  };
}

/** Runs `start` on the preferred port, or on any free one when another program holds it. */
async function onPreferredPort<T>(preferred: number | undefined, exact: number | undefined, start: (port: number) => Promise<T>): Promise<T> {
  if (exact !== undefined || preferred === undefined) return start(exact ?? 0);
  try {
    return await start(preferred);
  } catch (err) {
    if (err instanceof PortInUseError || (err as NodeJS.ErrnoException).code === 'EADDRINUSE') return start(0);
    throw err;
  }
}

export async function startLocalStack(opts: LocalStackOptions): Promise<LocalStack> {
  const env = opts.env ?? process.env;
  // Blank or spaces is unset here too, as everywhere in the configuration (lib/config env).
  const given = (name: string): string | undefined => variable(name, env);
  const fill = (name: string, value: string): void => {
    if (given(name) === undefined) env[name] = value;
  };
  const persistent = opts.persistent ?? true;
  const dataDir = path.resolve(opts.dataDir ?? path.join(opts.rootDir, '.data'));
  const stops: (() => Promise<void>)[] = [];
  const log = opts.onLog ?? (() => undefined);

  try {
    let databaseUrl: string | undefined;
    if (!given('DATABASE_URL') && !given('SUPABASE_URL')) {
      const pg: EmbeddedServer = await startEmbeddedPostgres({
        dataDir: path.join(dataDir, 'postgres'),
        persistent,
        onLog: log,
      });
      stops.push(() => pg.stop());
      env.DATABASE_URL = await ensureDatabase(pg.url, 'mailout');
    }
    const database = given('DATABASE_URL');
    if (database && !given('SUPABASE_URL')) {
      databaseUrl = database;
      const result = await migrate(databaseUrl);
      for (const f of result.applied) log(`migration applied: ${f}`);
    }

    let inboxUrl: string | undefined;
    let sesUrl = given('SES_ENDPOINT');
    if (!sesUrl) {
      const ses = await onPreferredPort(opts.preferredSesPort, opts.sesPort, startSesEmulator);
      if (opts.preferredSesPort !== undefined && opts.sesPort === undefined && ses.port !== opts.preferredSesPort) {
        log(`port ${opts.preferredSesPort} is busy: the SES emulator listens on ${ses.port}`);
      }
      stops.push(() => ses.close());
      sesUrl = env.SES_ENDPOINT = ses.url;
      for (const [name, value] of Object.entries(ses.env)) fill(name, value);
      inboxUrl = ses.url;
    }

    const secret = given('EXECUTOR_SHARED_SECRET') ?? localSecret(dataDir, persistent);
    env.EXECUTOR_SHARED_SECRET = secret;
    // The API's address is known once it listens; its base URL is filled in from it below.
    const appBaseUrlSet = given('APP_BASE_URL') !== undefined;
    fill('AWS_REGION', 'us-east-1');
    // The emulator accepts any credentials; these never leave the machine.
    fill('AWS_ACCESS_KEY_ID', 'local');
    fill('AWS_SECRET_ACCESS_KEY', 'local-secret');
    fill('SES_FROM_EMAIL', 'newsletter@example.com');
    fill('SES_FROM_NAME', 'Local Newsletter');
    fill('FOOTER_ADDRESS', 'Example Publishing, 1 Main Street, Springfield');
    fill('TEST_EMAILS', 'editor@example.com');
    // The local stack's own feedback topic: an empty allow-list trusts no SNS topic.
    fill('SNS_ALLOWED_TOPIC_ARNS', `arn:aws:sns:${given('AWS_REGION')}:000000000000:mailout-local-feedback`);
    const api = await onPreferredPort(opts.preferredPort, opts.port, async (port) => {
      try {
        return await startApiServer({ rootDir: opts.rootDir, port, maxDurationSeconds: opts.maxDurationSeconds, routes: opts.routes });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new PortInUseError('The API', port, 'PORT');
        throw err;
      }
    });
    stops.push(() => api.close());
    if (opts.preferredPort !== undefined && opts.port === undefined && api.port !== opts.preferredPort) {
      log(`port ${opts.preferredPort} is busy: the API listens on ${api.port}`);
    }
    if (!appBaseUrlSet) env.APP_BASE_URL = api.url;
    resetConfig();

    return {
      apiUrl: api.url,
      sesUrl,
      inboxUrl,
      databaseUrl,
      secret,
      api,
      async stop() {
        while (stops.length) await stops.pop()!().catch(() => undefined);
      },
    };
  } catch (err) {
    while (stops.length) await stops.pop()!().catch(() => undefined);
    throw err;
  }
}
