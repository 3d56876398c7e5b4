import { attachDatabasePool } from '@vercel/functions';
import type { Config, DbConfig } from '../config';
import { IDLE_TIMEOUT_MS, poolConnectionsFor, type FunctionName } from './pool-budget';
import { createPostgresDb } from './postgres';
import { createSupabaseDb } from './supabase';
import type { Db } from './types';

/**
 * The adapter the configuration asks for: Supabase when set, else `DATABASE_URL`.
 * `maxConnections`: the Postgres pool's size (a command-line tool needs few).
 */
export function createDb(config: Pick<Config, 'db'>, opts: { maxConnections?: number } = {}): Db {
  return config.db.kind === 'supabase'
    ? createSupabaseDb(config.db.url, config.db.serviceRoleKey)
    : createPostgresDb(config.db.url, opts.maxConnections ? { max: opts.maxConnections } : {});
}

/** Where the database is, for a tool to say (no secret: Supabase's URL, or Postgres host:port/name). */
export function describeDb(db: DbConfig): string {
  if (db.kind === 'supabase') return `Supabase ${db.url}`;
  try {
    const u = new URL(db.url);
    return `Postgres ${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname}`;
  } catch {
    return 'Postgres (DATABASE_URL)';
  }
}

const shared = new Map<FunctionName | undefined, { key: string; db: Db }>();

/**
 * One adapter per process and function (a warm Vercel function reuses its pool), sized for
 * that function (lib/db/pool-budget.ts). On Vercel, `attachDatabasePool` keeps the instance
 * alive until its idle connections have closed, so an idle instance holds none.
 */
export function getDb(config: Pick<Config, 'db'>, fn?: FunctionName): Db {
  const key = JSON.stringify(config.db);
  const existing = shared.get(fn);
  if (existing?.key === key) return existing.db;
  const db = serverlessDb(config.db, fn);
  shared.set(fn, { key, db });
  return db;
}

function serverlessDb(db: DbConfig, fn: FunctionName | undefined): Db {
  if (db.kind === 'supabase') return createSupabaseDb(db.url, db.serviceRoleKey);
  const postgres = createPostgresDb(db.url, { max: poolConnectionsFor(fn), idleTimeoutMillis: IDLE_TIMEOUT_MS });
  attachDatabasePool(postgres.pool);
  return postgres;
}
