/** `npm run report -- MAILOUT`: the per-recipient CSV (failures first) to standard output. */
import { describeTarget, importDbTarget, openImportDb } from '../lib/import/env';
import { mailoutReportCsv } from '../lib/report';
import { loadCliEnv } from './lib/env';

async function main(): Promise<void> {
  loadCliEnv({ database: true });
  const id = process.argv[2];
  if (!id) {
    console.error('usage: npm run report -- MAILOUT_ID');
    process.exit(2);
  }
  // The report needs the database only, not the sender's settings.
  const target = importDbTarget(process.env);
  if (!target) {
    console.error('No database: set DATABASE_URL (or SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY) in .env, or run it while `npm start` runs.');
    process.exit(2);
  }
  const db = openImportDb(target);
  try {
    const { csv, rows } = await mailoutReportCsv(db, id);
    process.stdout.write(csv);
    console.error(`${rows} recipients (${describeTarget(target)})`);
  } finally {
    await db.close();
  }
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
