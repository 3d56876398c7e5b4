import fs from 'node:fs';
import path from 'node:path';
import { listMigrations } from '../../scripts/db/migrate';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

/**
 * One typed SQL gateway: TypeScript reaches a SQL function only through its typed wrapper in
 * one of the store files below, every function the migrations define has one (or is called
 * only from SQL), and supabase/sql-functions.sql shows the current definition of each.
 * `npm run schema` rewrites supabase/sql-functions.sql after a migration changes a function.
 */

const ROOT = path.resolve(__dirname, '../..');

/** The files that call SQL functions: each holds the typed wrappers of its feature. */
const GATEWAY = [
  'lib/db/ledger.ts',
  'lib/db/subscribers.ts',
  'lib/db/report.ts',
  'lib/feedback/store.ts',
  'lib/feedback/dead-letter.ts',
  'lib/import/store.ts',
  'scripts/doctor/store.ts',
  // The pg_cron schedule is installed over a direct connection (npm run setup:cron).
  'scripts/setup/cron.ts',
];

/** Database adapters: they implement `Db.rpc` itself. */
const ADAPTERS = [
  'lib/db/types.ts',
  'lib/db/postgres.ts',
  'lib/db/supabase.ts',
  // Counts the calls per function in front of the real adapter.
  'scripts/bench/send.ts',
];

/** Trigger functions: a trigger (`execute function public.<fn>()`) calls them. */
const TRIGGERS = ['complaint_suppresses', 'complained_stay_out'];

/** Functions no TypeScript calls: other SQL (a function body, a CHECK, the pg_cron job) calls them. */
const CALLED_FROM_SQL = [
  'canonical_mailout_id', // the canonical-identities migration
  'mailout_id_from_name', // canonical_mailout_id
  'email_is_canonical', // the subscribers email CHECK and trigger
  'mailout_resume_due', // mailout_resume_tick
  'mailout_resume_tick', // the pg_cron job schedule_mailout_resume installs
];

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(rel);
    return /\.tsx?$/.test(e.name) ? [rel] : [];
  });
}

const read = (rel: string) => fs.readFileSync(path.join(ROOT, rel), 'utf8');

/** Every function the migrations leave defined, by name (the last definition wins; a later drop removes it). */
function migrationFunctions(): Map<string, string> {
  const fns = new Map<string, string>();
  for (const m of listMigrations()) {
    for (const match of read(path.join('supabase/migrations', m.file)).matchAll(/(create\s+(?:or\s+replace\s+)?|drop\s+)function\s+(?:if\s+exists\s+)?(\w+)\.(\w+)\s*\(/gi)) {
      if (match[2]!.toLowerCase() !== 'public') continue;
      if (match[1]!.toLowerCase().startsWith('drop')) fns.delete(match[3]!.toLowerCase());
      else fns.set(match[3]!.toLowerCase(), m.file);
    }
  }
  return fns;
}

test('no TypeScript outside the gateway calls a SQL function (.rpc)', () => {
  const allowed = new Set([...GATEWAY, ...ADAPTERS]);
  const offenders = ['api', 'lib', 'scripts']
    .flatMap(sourceFiles)
    .filter((f) => !allowed.has(f))
    .filter((f) => /\.rpc\s*(<|\()/.test(read(f)));
  expect(offenders).toEqual([]);
});

test('every SQL function the migrations define has one typed wrapper in the gateway, or is called only from SQL', () => {
  const gateway = GATEWAY.map(read).join('\n');
  const migrations = listMigrations()
    .map((m) => read(path.join('supabase/migrations', m.file)))
    .join('\n');
  const fns = migrationFunctions();
  expect(fns.size).toBeGreaterThan(20);
  const missing: string[] = [];
  for (const [fn, file] of fns) {
    if (CALLED_FROM_SQL.includes(fn) || TRIGGERS.includes(fn)) continue;
    const calls = gateway.match(new RegExp(`'${fn}'|public\\.${fn}\\(`, 'g')) ?? [];
    if (calls.length === 0) missing.push(`${fn} (${file})`);
  }
  expect(missing).toEqual([]);
  // Each exemption really is called from SQL: `public.<fn>(` inside another definition.
  for (const fn of CALLED_FROM_SQL) {
    expect({ fn, calledFromSql: new RegExp(`public\\.${fn}\\s*\\(`, 'i').test(migrations.replace(new RegExp(`function\\s+public\\.${fn}\\s*\\(`, 'gi'), '')) }).toEqual({
      fn,
      calledFromSql: true,
    });
  }
  for (const fn of TRIGGERS) expect({ fn, trigger: new RegExp(`execute\\s+function\\s+public\\.${fn}\\s*\\(`, 'i').test(migrations) }).toEqual({ fn, trigger: true });
});

test('each SQL function has one wrapper: no two gateway files call the same function', () => {
  const owners = new Map<string, string[]>();
  for (const file of GATEWAY) {
    for (const m of read(file).matchAll(/\.rpc\s*(?:<[^>]*>)?\s*\(\s*'(\w+)'/g)) owners.set(m[1]!, [...(owners.get(m[1]!) ?? []), file]);
  }
  const shared = [...owners].filter(([, files]) => new Set(files).size > 1);
  expect(shared).toEqual([]);
});

describe('supabase/sql-functions.sql', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(async () => {
    await t?.drop();
  });

  test('is the current definition of every SQL function after all migrations (npm run schema rewrites it)', async () => {
    const { rows } = await t.pool.query<{ def: string; comment: string | null; signature: string }>(
      `select pg_get_functiondef(p.oid) as def,
              obj_description(p.oid, 'pg_proc') as comment,
              p.oid::regprocedure::text as signature
         from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname in ('public', 'private') and p.prokind = 'f'
          and not exists (select 1 from pg_depend d where d.objid = p.oid and d.deptype = 'e')
        order by n.nspname, p.proname, p.oid::regprocedure::text`,
    );
    const parts = rows.map((r) => {
      const comment = r.comment === null ? '' : `\ncomment on function ${r.signature} is\n  ${quote(r.comment)};\n`;
      return `${r.def.trimEnd()};\n${comment}`;
    });
    const snapshot = [
      '-- The current definition of every SQL function, after all migrations in supabase/migrations.',
      '-- Generated from a migrated database by `npm run schema`; do not edit: write a migration,',
      '-- then run `npm run schema`. (tests/db/sql-gateway.test.ts fails when this file is stale.)',
      '',
      parts.join('\n'),
    ].join('\n');
    const file = path.join(ROOT, 'supabase/sql-functions.sql');
    if (process.env.WRITE_SQL_FUNCTIONS === '1') fs.writeFileSync(file, snapshot);
    const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    if (current !== snapshot) throw new Error('supabase/sql-functions.sql is stale: run `npm run schema` and commit it.');
    expect(rows.length).toBeGreaterThan(20);
  });
});

function quote(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}
