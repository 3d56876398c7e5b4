/** `npm run report -- MAILOUT`: the per-recipient CSV (failures first) to standard output. */
import { loadConfig } from '../lib/config';
import { getDb } from '../lib/db';
import { mailoutReportCsv } from '../lib/report';
import { loadDotEnv } from './lib/env';

async function main(): Promise<void> {
  loadDotEnv();
  const id = process.argv[2];
  if (!id) {
    console.error('usage: npm run report -- MAILOUT_ID');
    process.exit(2);
  }
  const db = getDb(loadConfig());
  const { csv, rows } = await mailoutReportCsv(db, id);
  process.stdout.write(csv);
  console.error(`${rows} recipients`);
  await db.close();
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
