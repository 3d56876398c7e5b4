import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { listMigrations } from '../../scripts/db/migrate';
import { createTestDatabase } from '../helpers/db';
import { ROOT, tempDir } from './built-functions';

/**
 * README deploy step 1, as a user runs it: the real Supabase CLI (npm package `supabase`,
 * pinned) pushes supabase/migrations to a Postgres. Here the Postgres is the test one
 * (`--db-url …?sslmode=disable`), on a database with nothing in it yet.
 */
test('supabase db push (the real CLI) applies every migration to an empty database', async () => {
  const t = await createTestDatabase({ empty: true });
  const work = tempDir('supabase-push-');
  try {
    fs.cpSync(path.join(ROOT, 'supabase', 'migrations'), path.join(work, 'supabase', 'migrations'), { recursive: true });
    const cli = path.join(ROOT, 'node_modules', '.bin', 'supabase');
    const result = await promisify(execFile)(cli, ['db', 'push', '--db-url', `${t.url}?sslmode=disable`, '--yes'], {
      cwd: work,
      env: { PATH: process.env.PATH, HOME: work, DO_NOT_TRACK: '1' },
    }).catch((err: { stdout: string; stderr: string; message: string }) => {
      throw new Error(`supabase db push failed: ${err.message}\n${err.stdout}\n${err.stderr}`);
    });
    const { rows } = await t.pool.query<{ version: string }>('select version from supabase_migrations.schema_migrations order by version');
    expect(rows.map((r) => r.version)).toEqual(listMigrations().map((m) => m.version));
    expect((await t.pool.query(`select 1 from pg_proc where proname in ('claim_mailout', 'schedule_mailout_resume')`)).rowCount).toBe(2);
    expect(result.stdout + result.stderr).toMatch(/Finished supabase db push|Applying migration/);
  } finally {
    await t.drop();
    fs.rmSync(work, { recursive: true, force: true });
  }
});
