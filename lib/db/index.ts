import type { Config } from '../config';
import { createPostgresDb } from './postgres';
import { createSupabaseDb } from './supabase';
import type { Db } from './types';

export type { Db } from './types';
export { createPostgresDb } from './postgres';
export { createSupabaseDb } from './supabase';

/** The adapter the configuration asks for: Supabase when set, else `DATABASE_URL`. */
export function createDb(config: Pick<Config, 'db'>): Db {
  return config.db.kind === 'supabase'
    ? createSupabaseDb(config.db.url, config.db.serviceRoleKey)
    : createPostgresDb(config.db.url);
}

let shared: { key: string; db: Db } | undefined;

/** One adapter per process (a warm Vercel function reuses its pool). */
export function getDb(config: Pick<Config, 'db'>): Db {
  const key = JSON.stringify(config.db);
  if (!shared || shared.key !== key) shared = { key, db: createDb(config) };
  return shared.db;
}
