import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';

/** Where the Supabase CLI keeps migrations; `supabase db push` reads the same files. */
export const MIGRATIONS_DIR = path.resolve(__dirname, '../../supabase/migrations');

export interface Migration {
  version: string;
  name: string;
  file: string;
  sql: string;
}

export interface MigrateResult {
  applied: string[];
  alreadyApplied: string[];
  /** Notices at WARNING level or above that Postgres raised while applying. */
  warnings: string[];
}

const FILE_PATTERN = /^(\d{14})_([a-z0-9_]+)\.sql$/;

export function listMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((file) => {
      const m = FILE_PATTERN.exec(file);
      if (!m) throw new Error(`Migration file ${file} must be named <14-digit timestamp>_<name>.sql`);
      return { version: m[1]!, name: m[2]!, file, sql: fs.readFileSync(path.join(dir, file), 'utf8') };
    });
}

/**
 * The roles a Supabase project has. A plain Postgres (the embedded one, or any other) gets
 * them here so the migrations' grants mean the same thing everywhere.
 */
const SUPABASE_ROLES_SQL = `
do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
end
$$;
grant usage on schema public to anon, authenticated, service_role;
`;

/** The same bookkeeping table the Supabase CLI uses, so both tools agree on what is applied. */
const HISTORY_SQL = `
create schema if not exists supabase_migrations;
create table if not exists supabase_migrations.schema_migrations (
  version text primary key,
  statements text[],
  name text
);
`;

/** Held by every step of a migration run, whichever database it migrates: roles are cluster-wide. */
const MIGRATE_LOCK = 7212001;

/**
 * Runs `step` in one transaction that first takes the migration lock. A transaction-level lock
 * because through a transaction pooler (Supabase's port 6543, PgBouncer) only a transaction
 * is sure to stay on one server connection: a session lock taken there is released on another
 * connection, or never. The commit or rollback releases it, whatever happens to the client.
 */
async function lockedTransaction<T>(client: Client, step: () => Promise<T>): Promise<T> {
  await client.query('begin');
  try {
    await client.query(`select pg_advisory_xact_lock(${MIGRATE_LOCK})`);
    const result = await step();
    await client.query('commit');
    return result;
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  }
}

async function isApplied(client: Client, version: string): Promise<boolean> {
  const { rowCount } = await client.query('select 1 from supabase_migrations.schema_migrations where version = $1', [version]);
  return Boolean(rowCount);
}

/** Applies one migration unless a concurrent run already did (checked under the lock); true when applied here. */
async function applyOnce(client: Client, m: Migration): Promise<boolean> {
  return lockedTransaction(client, async () => {
    if (await isApplied(client, m.version)) return false;
    try {
      await client.query(m.sql);
    } catch (err) {
      throw new Error(`Migration ${m.file} failed: ${(err as Error).message}`);
    }
    await client.query('insert into supabase_migrations.schema_migrations (version, name, statements) values ($1, $2, $3)', [
      m.version,
      m.name,
      [m.sql],
    ]);
    return true;
  });
}

/**
 * Apply every pending migration, each in its own transaction, in file order. Safe through a
 * transaction pooler and beside another run: nothing is kept in the session between steps.
 */
export async function migrate(databaseUrl: string, dir = MIGRATIONS_DIR): Promise<MigrateResult> {
  const client = new Client({ connectionString: databaseUrl });
  const warnings: string[] = [];
  client.on('notice', (n) => {
    if (n.severity === 'WARNING') warnings.push(n.message ?? '');
  });
  await client.connect();
  try {
    await lockedTransaction(client, () => client.query(SUPABASE_ROLES_SQL + HISTORY_SQL));
    const result: MigrateResult = { applied: [], alreadyApplied: [], warnings };
    for (const m of listMigrations(dir)) (await applyOnce(client, m) ? result.applied : result.alreadyApplied).push(m.file);
    return result;
  } finally {
    await client.end();
  }
}
