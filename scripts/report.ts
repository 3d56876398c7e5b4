/** `npm run report -- PAGE|FILE.md`: the per-recipient CSV (failures first) to standard output. */
import fs from 'node:fs';
import { loadConfig } from '../lib/config';
import { getDb } from '../lib/db';
import { parseMailoutId } from '../lib/mailout-id';
import { mailoutReportCsv } from '../lib/report';
import { markdownMailoutId } from '../lib/send/wire';
import { loadDotEnv } from './lib/env';

async function main(): Promise<void> {
  loadDotEnv();
  const id = process.argv[2];
  if (!id) {
    console.error('usage: npm run report -- PAGE|MAILOUT_ID|FILE.md');
    process.exit(2);
  }
  let mailoutId: string;
  try {
    mailoutId = fs.existsSync(id) && id.endsWith('.md') ? markdownMailoutId(id) : parseMailoutId(id, 'MAILOUT');
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
  const db = getDb(loadConfig());
  const { csv, rows } = await mailoutReportCsv(db, mailoutId);
  process.stdout.write(csv);
  console.error(`${rows} recipients`);
  await db.close();
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
