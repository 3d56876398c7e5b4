import { Client } from 'pg';
import { listMigrations, migrate } from '../../scripts/db/migrate';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

describe('migrations', () => {
  let empty: TestDatabase;
  beforeAll(async () => {
    empty = await createTestDatabase({ empty: true });
  });
  afterAll(async () => {
    await empty.drop();
  });

  test('apply to an empty database with no error and no warning, and only once', async () => {
    const first = await migrate(empty.url);
    expect(first.warnings).toEqual([]);
    expect(first.applied).toEqual(listMigrations().map((m) => m.file));
    const second = await migrate(empty.url);
    expect(second.applied).toEqual([]);
    expect(second.alreadyApplied).toHaveLength(first.applied.length);
  });

  test('are tracked where the Supabase CLI tracks them', async () => {
    const { rows } = await empty.pool.query('select version, name from supabase_migrations.schema_migrations order by version');
    expect(rows.map((r) => `${r.version}_${r.name}.sql`)).toEqual(listMigrations().map((m) => m.file));
  });

  test('every table has row level security enabled', async () => {
    const { rows } = await empty.pool.query(
      `select relname, relrowsecurity from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'public' and c.relkind = 'r' order by relname`,
    );
    expect(rows.length).toBeGreaterThanOrEqual(5);
    for (const r of rows) expect({ table: r.relname, rls: r.relrowsecurity }).toEqual({ table: r.relname, rls: true });
  });
});

describe('database privileges', () => {
  let t: TestDatabase;
  let client: Client;
  beforeAll(async () => {
    t = await createTestDatabase();
    client = await t.connect();
  });
  afterAll(async () => {
    await t.drop();
  });

  async function tryAs(role: string, sql: string): Promise<string> {
    await client.query('begin');
    try {
      await client.query(`set local role ${role}`);
      await client.query(sql);
      return 'ok';
    } catch (err) {
      return (err as { code?: string }).code ?? 'error';
    } finally {
      await client.query('rollback');
    }
  }

  async function publicTables(): Promise<string[]> {
    const { rows } = await t.pool.query(
      `select relname from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public' and c.relkind = 'r'`,
    );
    return rows.map((r) => r.relname as string);
  }

  async function publicFunctions(): Promise<{ name: string; call: string }[]> {
    const { rows } = await t.pool.query(
      `select p.proname, pg_get_function_identity_arguments(p.oid) as args, p.pronargs, p.prorettype = 'trigger'::regtype as is_trigger
         from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'public'`,
    );
    return rows.map((r) => ({
      name: `${r.proname}(${r.args})`,
      call: r.is_trigger
        ? // A trigger function cannot be called directly: its EXECUTE privilege is asked instead.
          `do $$ begin if not has_function_privilege('public.${r.proname}(${r.args})', 'execute') then raise exception 'no execute' using errcode = '42501'; end if; end $$`
        : // Call with NULLs of the right count: a privilege check happens before the body runs.
          `select * from public.${r.proname}(${Array.from({ length: r.pronargs }, () => 'null').join(', ')})`,
    }));
  }

  test.each(['anon', 'authenticated'])('%s can read no table', async (role) => {
    const tables = await publicTables();
    expect(tables).toEqual(expect.arrayContaining(['subscribers', 'mailouts', 'deliveries', 'ses_events', 'test_sends']));
    for (const table of tables) {
      expect({ table, result: await tryAs(role, `select * from public.${table} limit 1`) }).toEqual({ table, result: '42501' });
      expect({ table, result: await tryAs(role, `insert into public.${table} default values`) }).toEqual({
        table,
        result: '42501',
      });
    }
  });

  test.each(['anon', 'authenticated'])('%s can execute no function', async (role) => {
    const fns = await publicFunctions();
    expect(fns.length).toBeGreaterThanOrEqual(7);
    for (const fn of fns) expect({ fn: fn.name, result: await tryAs(role, fn.call) }).toEqual({ fn: fn.name, result: '42501' });
  });

  test('service_role can execute every function and read every table', async () => {
    for (const table of await publicTables()) {
      expect({ table, result: await tryAs('service_role', `select * from public.${table} limit 1`) }).toEqual({ table, result: 'ok' });
    }
    for (const fn of await publicFunctions()) {
      // NULL arguments may be refused by the function itself (22023), never by privileges.
      expect({ fn: fn.name, result: await tryAs('service_role', fn.call) }).not.toEqual({ fn: fn.name, result: '42501' });
    }
  });
});
