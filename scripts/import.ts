/**
 * `npm run import -- FILE.csv [--dry-run] [--source NAME] [--report rejected.csv] [--json]`
 *
 * Imports a GetResponse CSV export (or any CSV with an email column) into `subscribers`.
 * The database comes from SUPABASE_URL + SUPABASE_SERVICE_ROLE_KEY, else DATABASE_URL; no
 * other setting of the executor is needed. A dry run without a database only validates.
 *
 * Exit codes: 0 done (rejected rows do not fail an import), 1 the file could not be read
 * or imported, 2 bad usage or no database configured.
 */
import { parseArgs } from 'node:util';
import { loadDatabaseConfig, type DbConfig } from '../lib/config';
import { createDb, describeDb } from '../lib/db';
import type { Db } from '../lib/db/types';
import { isAppError } from '../lib/errors';
import {
  formatSummary,
  ImportFileError,
  importSubscribersFromFile,
  progressBar,
  progressLine,
  type ImportProgress,
} from '../lib/import';
import { loadCliEnv } from './lib/env';

const USAGE = `Usage: npm run import -- FILE.csv [--dry-run] [--source NAME] [--report rejected.csv] [--json]

  --dry-run         validate and count; write nothing
  --source NAME     store NAME as every subscriber's source (default: the campaign/list column, else the file name)
  --report FILE     write the rejected rows (line, email, name, reason) to FILE as CSV
  --json            print the summary as JSON on standard output

Database: SUPABASE_URL + SUPABASE_SERVICE_ROLE_KEY, or DATABASE_URL.`;

function fail(code: number, message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

function progressPrinter(): { update: (p: ImportProgress) => void; finish: () => void } {
  const tty = Boolean(process.stderr.isTTY);
  let lastDraw = 0;
  let lastDecile = -1;
  let drawn = false;
  return {
    update(p) {
      if (tty) {
        const now = Date.now();
        if (!p.done && now - lastDraw < 100) return;
        lastDraw = now;
        const cols = process.stderr.columns || 100;
        process.stderr.write(`\r${progressBar(p).slice(0, Math.max(20, cols - 1))}\x1b[K`);
        drawn = true;
        return;
      }
      // Plain lines: one per tenth of the file, and the final counts.
      const decile = p.totalBytes > 0 ? Math.floor((Math.min(1, p.bytesRead / p.totalBytes) * 100) / 10) : 10;
      if (p.done || (decile > lastDecile && decile < 10)) {
        lastDecile = decile;
        process.stderr.write(`${progressLine(p)}\n`);
      }
    },
    finish() {
      if (tty && drawn) process.stderr.write('\n');
    },
  };
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: process.argv.slice(2),
      allowPositionals: true,
      options: {
        'dry-run': { type: 'boolean', default: false },
        source: { type: 'string' },
        report: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    fail(2, `${(err as Error).message}\n\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (positionals.length !== 1) fail(2, `Expected exactly one CSV file.\n\n${USAGE}`);
  const file = positionals[0]!;
  const dryRun = values['dry-run'] === true;
  if (values.source !== undefined && values.source.trim() === '') fail(2, '--source needs a non-empty NAME');
  loadCliEnv({ database: true });

  let target: DbConfig | null = null;
  try {
    target = loadDatabaseConfig();
  } catch (err) {
    fail(2, (err as Error).message);
  }
  let db: Db | null = null;
  if (target) {
    db = createDb({ db: target }, { maxConnections: 2 });
  } else if (!dryRun) {
    fail(
      2,
      'No database configured. Set SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY (Supabase), ' +
        'or DATABASE_URL (a Postgres connection string), then run the import again. ' +
        '(--dry-run works without a database: it only validates.)',
    );
  }
  process.stderr.write(
    `${dryRun ? 'Dry run of' : 'Importing'} ${file} ${target ? `into ${describeDb(target)}` : '(no database: validation only)'}\n`,
  );

  const progress = progressPrinter();
  try {
    const summary = await importSubscribersFromFile(db, file, {
      dryRun,
      source: values.source,
      rejectedReportPath: values.report,
      onProgress: progress.update,
    });
    progress.finish();
    process.stdout.write(values.json ? `${JSON.stringify(summary)}\n` : `${formatSummary(summary)}\n`);
  } catch (err) {
    progress.finish();
    const msg = isAppError(err) ? err.message : err instanceof Error ? err.message : String(err);
    const safe = err instanceof ImportFileError ? '' : '\nChunks written before the failure stay; running the same import again is safe.';
    process.stderr.write(`Import failed: ${msg}${safe}\n`);
    process.exitCode = 1;
  } finally {
    await db?.close();
  }
}

main().catch((err) => {
  process.stderr.write(`Import failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
