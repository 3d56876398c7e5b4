import { createPostgresDb } from '../db/postgres';
import { createSupabaseDb } from '../db/supabase';
import type { Db } from '../db/types';

/**
 * The database of `npm run import`, from the database variables only (the importer needs
 * none of the executor's other settings): Supabase when SUPABASE_URL and
 * SUPABASE_SERVICE_ROLE_KEY are set, else DATABASE_URL, else none.
 */
export type ImportDbTarget =
  | { kind: 'supabase'; url: string; serviceRoleKey: string }
  | { kind: 'postgres'; url: string };

export function importDbTarget(env: Record<string, string | undefined>): ImportDbTarget | null {
  const supabaseUrl = env.SUPABASE_URL?.trim();
  const key = env.SUPABASE_SERVICE_ROLE_KEY?.trim();
  if (supabaseUrl && key) return { kind: 'supabase', url: supabaseUrl, serviceRoleKey: key };
  const databaseUrl = env.DATABASE_URL?.trim();
  if (databaseUrl) return { kind: 'postgres', url: databaseUrl };
  return null;
}

export function describeTarget(t: ImportDbTarget): string {
  if (t.kind === 'supabase') return `Supabase ${t.url}`;
  try {
    const u = new URL(t.url);
    return `Postgres ${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname}`;
  } catch {
    return 'Postgres (DATABASE_URL)';
  }
}

export function openImportDb(t: ImportDbTarget): Db {
  return t.kind === 'supabase' ? createSupabaseDb(t.url, t.serviceRoleKey) : createPostgresDb(t.url, { max: 2 });
}
