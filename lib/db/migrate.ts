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

/** Apply every pending migration, each in its own transaction, in file order. */
export async function migrate(databaseUrl: string, dir = MIGRATIONS_DIR): Promise<MigrateResult> {
  const client = new Client({ connectionString: databaseUrl });
  const warnings: string[] = [];
  client.on('notice', (n) => {
    if (n.severity === 'WARNING') warnings.push(n.message ?? '');
  });
  await client.connect();
  try {
    // Roles are cluster-wide: two databases created at once may race to create them.
    await client.query('select pg_advisory_lock(7212001)');
    await client.query(SUPABASE_ROLES_SQL);
    await client.query(HISTORY_SQL);
    const done = new Set(
      (await client.query<{ version: string }>('select version from supabase_migrations.schema_migrations')).rows.map(
        (r) => r.version,
      ),
    );
    const result: MigrateResult = { applied: [], alreadyApplied: [], warnings };
    for (const m of listMigrations(dir)) {
      if (done.has(m.version)) {
        result.alreadyApplied.push(m.file);
        continue;
      }
      await client.query('begin');
      try {
        await client.query(m.sql);
        await client.query(
          'insert into supabase_migrations.schema_migrations (version, name, statements) values ($1, $2, $3)',
          [m.version, m.name, [m.sql]],
        );
        await client.query('commit');
      } catch (err) {
        await client.query('rollback');
        const e = err as Error & { position?: string };
        throw new Error(`Migration ${m.file} failed: ${e.message}`);
      }
      result.applied.push(m.file);
    }
    return result;
  } finally {
    await client.query('select pg_advisory_unlock(7212001)').catch(() => undefined);
    await client.end();
  }
}
