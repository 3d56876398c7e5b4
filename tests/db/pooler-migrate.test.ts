import path from 'node:path';
import { Client } from 'pg';
import { listMigrations, migrate } from '../../scripts/db/migrate';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { startPgBouncer, type PgBouncer } from '../helpers/pgbouncer';
import { cleanCliEnv, runCommand } from '../helpers/run';

const ROOT = path.resolve(__dirname, '..', '..');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');

let bouncer: PgBouncer;
let t: TestDatabase;
beforeAll(async () => {
  bouncer = await startPgBouncer({ serverUrl: process.env.TEST_PG_ADMIN_URL!, poolSize: 3 });
  t = await createTestDatabase({ empty: true });
});
afterAll(async () => {
  await t?.drop();
  await bouncer?.stop();
});

function npmRunMigrate(databaseUrl: string) {
  return runCommand(TSX, [path.join(ROOT, 'scripts', 'migrate.ts')], { cwd: ROOT, env: { ...cleanCliEnv(), DATABASE_URL: databaseUrl } });
}

test('two npm run migrate at once through a transaction pooler both end, and each migration is applied once', async () => {
  const url = bouncer.urlFor(t.url);
  const runs = await Promise.all([npmRunMigrate(url), npmRunMigrate(url)]);
  for (const r of runs) expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  const applied = runs.flatMap((r) => [...r.stdout.matchAll(/^applied {2}(\S+)$/gm)].map((m) => m[1]));
  expect(applied.sort()).toEqual(listMigrations().map((m) => m.file));
  const again = await npmRunMigrate(url);
  expect(again.stdout).toContain(`0 applied, ${listMigrations().length} already applied`);
  expect(await advisoryLocksHeld()).toEqual([]);
});

test('four migrations runs started at once in one process through the pooler apply each migration once', async () => {
  const other = await createTestDatabase({ empty: true });
  try {
    const runs = await Promise.all([1, 2, 3, 4].map(() => migrate(bouncer.urlFor(other.url))));
    expect(runs.flatMap((r) => r.applied).sort()).toEqual(listMigrations().map((m) => m.file));
    for (const r of runs) expect(r.warnings).toEqual([]);
    const { rows } = await other.pool.query('select count(*)::int as n from supabase_migrations.schema_migrations');
    expect(rows[0].n).toBe(listMigrations().length);
  } finally {
    await other.drop();
  }
});

test('without PgBouncer the pooler tests fail and say how to install it', async () => {
  await expect(startPgBouncer({ serverUrl: t.url, poolSize: 1, candidates: ['/nonexistent/pgbouncer'] })).rejects.toThrow(
    /PgBouncer is not installed \(looked for \/nonexistent\/pgbouncer\): apt-get install -y pgbouncer/,
  );
});

/** Advisory locks any session holds on the server (a session lock left behind by a run shows here). */
async function advisoryLocksHeld(): Promise<unknown[]> {
  const direct = new Client({ connectionString: t.url });
  await direct.connect();
  try {
    return (await direct.query(`select objid, pid from pg_locks where locktype = 'advisory'`)).rows;
  } finally {
    await direct.end();
  }
}
