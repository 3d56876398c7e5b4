import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Pool } from 'pg';
import { listMigrations, migrate, MIGRATIONS_DIR } from '../../scripts/db/migrate';
import { createPostgresDb } from '../../lib/db/postgres';
import { createLedger, type ClaimResult, type Lease, type Ledger } from '../../lib/db/ledger';
import type { Db } from '../../lib/db/types';

export interface TestDatabase {
  name: string;
  url: string;
  /** The executor's adapter (direct Postgres) on this database. */
  db: Db;
  /** The typed SQL calls on `db`. */
  ledger: Ledger;
  /** A pool for assertions and fixtures. */
  pool: Pool;
  /** A new, separate connection (for concurrency tests). */
  connect(): Promise<Client>;
  drop(): Promise<void>;
}

function adminUrl(): string {
  const url = process.env.TEST_PG_ADMIN_URL;
  if (!url) throw new Error('TEST_PG_ADMIN_URL is not set: run the tests through jest (globalSetup starts Postgres)');
  return url;
}

export function urlFor(database: string): string {
  return adminUrl().replace(/\/[^/]*$/, `/${database}`);
}

async function adminQuery(sql: string): Promise<void> {
  const c = new Client({ connectionString: adminUrl() });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** A fresh database with every migration applied, private to the calling test file. */
export async function createTestDatabase(opts: { empty?: boolean } = {}): Promise<TestDatabase> {
  const name = `t_${randomBytes(6).toString('hex')}`;
  await adminQuery(
    opts.empty ? `create database ${name}` : `create database ${name} template ${process.env.TEST_PG_TEMPLATE ?? 'mailout_template'}`,
  );
  const url = urlFor(name);
  const adapter = createPostgresDb(url, { max: 20 });
  const pool = new Pool({ connectionString: url, max: 10 });
  const clients: Client[] = [];
  return {
    name,
    url,
    db: adapter,
    ledger: createLedger(adapter),
    pool,
    async connect() {
      const c = new Client({ connectionString: url });
      await c.connect();
      clients.push(c);
      return c;
    },
    async drop() {
      await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
      await adapter.close();
      await pool.end();
      // Not WITH (FORCE): terminating a connection some library still holds makes its pool
      // emit an unhandled 'error' and fails the file. A database still in use is left to the
      // throw-away server, which is deleted after the run.
      await adminQuery(`drop database if exists ${name}`).catch(() => undefined);
    },
  };
}

/** The lease a claim handed out, for `t.ledger.run(…)`. */
export function leaseOf(claim: Pick<ClaimResult, 'mailoutId' | 'leaseToken'>, leaseSeconds = 60): Lease {
  if (!claim.leaseToken) throw new Error(`The claim of ${claim.mailoutId} holds no lease.`);
  return { mailoutId: claim.mailoutId, leaseToken: claim.leaseToken, leaseSeconds };
}

/** Insert `n` active subscribers (sub0@example.com ...); returns their ids in order. */
export async function seedSubscribers(
  pool: Pool,
  n: number,
  opts: { prefix?: string; status?: string; domain?: string } = {},
): Promise<string[]> {
  const { rows } = await pool.query<{ id: string }>(
    `insert into subscribers (email, name, status, source)
     select $1 || g || '@' || $3, 'Name ' || g, $2, 'test'
       from generate_series(0, $4 - 1) g
     returning id`,
    [opts.prefix ?? 'sub', opts.status ?? 'active', opts.domain ?? 'example.com', n],
  );
  return rows.map((r) => r.id);
}

/** A letter to claim a mailout with: the database never claims a mailout without one. */
export const STORED_LETTER = { subject: 'Test letter', html: '<p>Test</p>', text: 'Test', warnings: [] };

/** Apply the migrations older than `version` to an empty test database (a deployment from before it). */
export async function migrateBefore(t: TestDatabase, version: string): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'migrations-before-'));
  try {
    for (const m of listMigrations().filter((m) => m.version < version)) fs.copyFileSync(path.join(MIGRATIONS_DIR, m.file), path.join(dir, m.file));
    await migrate(t.url, dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Copy every recipient of a claimed mailout into the ledger at once, as claim_batch does
 * chunk by chunk while the send reaches them (a claim copies the first 2,000): for tests of
 * what reads the whole ledger (the report) without sending.
 */
export async function copyAllRecipients(pool: Pool, mailoutId: string): Promise<void> {
  await pool.query('select private.snapshot_recipients($1, 2147483647)', [mailoutId]);
}
