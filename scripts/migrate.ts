/** `npm run migrate`: apply pending migrations in supabase/migrations to DATABASE_URL. */
import { env } from '../lib/config';
import { migrate } from './db/migrate';
import { loadCliEnv } from './lib/env';

async function main(): Promise<void> {
  loadCliEnv({ database: true });
  const url = env('DATABASE_URL');
  if (!url) {
    console.error(
      'Set DATABASE_URL to the Postgres to migrate (Supabase → Connect: the session pooler, port 5432, or the direct connection), or use `supabase db push`.',
    );
    process.exit(2);
  }
  const result = await migrate(url);
  for (const f of result.applied) console.log(`applied  ${f}`);
  console.log(`${result.applied.length} applied, ${result.alreadyApplied.length} already applied`);
  for (const w of result.warnings) console.warn(`warning: ${w}`);
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
