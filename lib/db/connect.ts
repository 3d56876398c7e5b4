import type { Config, DbConfig } from '../config';
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

let shared: { key: string; db: Db } | undefined;

/** One adapter per process (a warm Vercel function reuses its pool). */
export function getDb(config: Pick<Config, 'db'>): Db {
  const key = JSON.stringify(config.db);
  if (!shared || shared.key !== key) shared = { key, db: createDb(config) };
  return shared.db;
}
