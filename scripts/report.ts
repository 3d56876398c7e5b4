/**
 * `npm run report -- PAGE|MAILOUT_ID|FILE.md [--link]`: the per-recipient CSV (failures first)
 * to standard output, and a fresh signed link to it on standard error. `--link`: only the link
 * (report links expire after REPORT_LINK_DAYS; this is how to get a new one).
 */
import { loadConfig } from '../lib/config';
import { getDb } from '../lib/db';
import { mailoutReportCsv, reportUrl } from '../lib/report';
import { letterSource, mailoutIdOf } from '../lib/render/pipeline';
import { loadDotEnv } from './lib/env';

const USAGE = 'usage: npm run report -- PAGE|MAILOUT_ID|FILE.md [--link]';

async function main(): Promise<void> {
  loadDotEnv();
  const args = process.argv.slice(2);
  const linkOnly = args.includes('--link');
  const ids = args.filter((a) => !a.startsWith('-'));
  const id = ids[0];
  if (!id || ids.length > 1 || args.some((a) => a.startsWith('-') && a !== '--link')) {
    console.error(USAGE);
    process.exit(2);
  }
  let mailoutId: string;
  try {
    mailoutId = mailoutIdOf(letterSource(id));
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
  const config = loadConfig();
  const link = reportUrl(config, mailoutId);
  const until = `valid for ${config.reportLinkDays} days`;
  const db = getDb(config);
  if (linkOnly) {
    const known = (await db.rpc('get_mailout', { p_mailout_id: mailoutId })).length > 0;
    await db.close();
    if (!known) throw new Error(`No mailout ${mailoutId} has been sent or claimed.`);
    process.stdout.write(`${link}\n`);
    console.error(`A fresh report link, ${until}.`);
    return;
  }
  const { csv, rows } = await mailoutReportCsv(db, mailoutId);
  process.stdout.write(csv);
  console.error(`${rows} recipients. A fresh link to this report (${until}): ${link}`);
  await db.close();
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
