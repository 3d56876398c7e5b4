import fs from 'node:fs';
import path from 'node:path';
import { env, loadDatabaseConfig } from '../../lib/config';
import { readStackFile } from '../local/stack-file';

/** The project's root folder (where `.env` and `.data/` are). */
export const ROOT_DIR = path.resolve(__dirname, '../..');

/** Where `npm start` keeps its Postgres data, secret and stack.json: LOCAL_DATA_DIR, else `.data/`. */
export function localDataDir(rootDir = ROOT_DIR): string {
  const set = env('LOCAL_DATA_DIR');
  return set ? path.resolve(rootDir, set) : path.join(rootDir, '.data');
}

/**
 * The configuration of every command-line tool, read the same way: `.env` from the project
 * root when present, the environment winning over it. With `database`, and no database set
 * (DATABASE_URL or SUPABASE_URL), the tool uses the running `npm start`'s database (from
 * `stack.json` in the local data folder) and says so on standard error.
 */
export function loadCliEnv(opts: { database?: boolean; rootDir?: string } = {}): void {
  const rootDir = opts.rootDir ?? ROOT_DIR;
  const file = path.join(rootDir, '.env');
  if (fs.existsSync(file)) process.loadEnvFile(file);
  if (!opts.database || env('DATABASE_URL') || env('SUPABASE_URL')) return;
  const stack = readStackFile(localDataDir(rootDir));
  if (!stack?.databaseUrl) return;
  process.env.DATABASE_URL = stack.databaseUrl;
  let where = 'Postgres';
  try {
    const u = new URL(stack.databaseUrl);
    where = `Postgres ${u.hostname}:${u.port}${u.pathname}`;
  } catch {
    // Only the description is lost.
  }
  process.stderr.write(`Using the database of the running \`npm start\` (pid ${stack.pid}): ${where}. Set DATABASE_URL to use another.\n`);
}

/** The database section for a tool that needs only the database; exits 2, naming what to set, without one. */
export function cliDatabaseConfig(): NonNullable<ReturnType<typeof loadDatabaseConfig>> {
  const target = loadDatabaseConfig();
  if (!target) {
    console.error('No database: set DATABASE_URL (or SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY) in .env, or run it while `npm start` runs.');
    process.exit(2);
  }
  return target;
}
