/**
 * `npm run report -- PAGE|MAILOUT_ID|FILE.md [--link]`: the per-recipient CSV (failures first)
 * to standard output, and a fresh signed link to it on standard error when the executor's
 * configuration is complete. `--link`: only the link (report links expire after
 * REPORT_LINK_DAYS; this is how to get a new one).
 */
import { once } from 'node:events';
import { loadConfig, loadDatabaseConfig } from '../lib/config';
import { createDb, describeDb } from '../lib/db';
import { createLedger } from '../lib/db/ledger';
import { letterSource, mailoutIdOf } from '../lib/letter';
import { openMailoutReport, reportUrl } from '../lib/report';
import { cliDatabaseConfig, loadCliEnv } from './lib/env';

const USAGE = 'usage: npm run report -- PAGE|MAILOUT_ID|FILE.md [--link]';

/** A signed link needs REPORT_SECRET (or the executor secret) and APP_BASE_URL; the CSV does not. */
function freshLink(mailoutId: string, required: boolean): { url: string; days: number } | null {
  try {
    const config = loadConfig();
    return { url: reportUrl(config, mailoutId), days: config.reportLinkDays };
  } catch (err) {
    if (required) throw err;
    return null;
  }
}

async function main(): Promise<void> {
  loadCliEnv({ database: true });
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
  // The report needs the database only, not the sender's settings.
  const target = cliDatabaseConfig();
  const db = createDb({ db: target }, { maxConnections: 2 });
  const ledger = createLedger(db);
  try {
    if (linkOnly) {
      const link = freshLink(mailoutId, true);
      const known = await ledger.exists(mailoutId);
      if (!known) throw new Error(`No mailout ${mailoutId} has been sent or claimed.`);
      process.stdout.write(`${link!.url}\n`);
      console.error(`A fresh report link, valid for ${link!.days} days.`);
      return;
    }
    // Page by page, waiting for the terminal or file to take each piece: one page in memory.
    const report = await openMailoutReport(ledger, mailoutId);
    for await (const chunk of report.chunks) {
      if (!process.stdout.write(chunk)) await once(process.stdout, 'drain');
    }
    const rows = report.rows();
    const link = freshLink(mailoutId, false);
    console.error(`${rows} recipients (${describeDb(target)}).${link ? ` A fresh link to this report (valid for ${link.days} days): ${link.url}` : ''}`);
  } finally {
    await db.close();
  }
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
