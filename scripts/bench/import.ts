/**
 * Import benchmark: a generated 100,000-row GetResponse-like export (Latin and Cyrillic
 * names, extra columns, 1% invalid addresses, 1% mixed-case duplicates) imported into a
 * fresh embedded Postgres, then imported again (everything unchanged), then validated
 * without a database. Each import runs in a child process (this file, with
 * IMPORT_BENCH_CHILD set) so its peak memory is the import's own, not the bench runner's.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { env } from '../../lib/config';
import type { Figure } from '../bench';

const ROWS = 100_000;

interface ChildResult {
  read: number;
  inserted: number;
  updated: number;
  unchanged: number;
  rejected: number;
  duplicates: number;
  seconds: number;
  peakRssMb: number;
  peakHeapMb: number;
  baselineRssMb: number;
}

async function writeExport(file: string, rows: number): Promise<void> {
  const out = fs.createWriteStream(file);
  const write = async (s: string) => {
    if (!out.write(s)) await once(out, 'drain');
  };
  await write('\uFEFFEmail,Name,Campaign,Created on,IP,"Custom: city"\r\n');
  for (let i = 0; i < rows; i++) {
    let email = `subscriber.${i}@example${i % 97}.com`;
    if (i % 100 === 17) email = `broken ${i} at example.com`;
    if (i % 100 === 53) email = `SUBSCRIBER.${i - 1}@EXAMPLE${(i - 1) % 97}.COM`;
    const name = i % 3 === 0 ? `"Иван, ${i}"` : i % 3 === 1 ? `Anna ${i}` : '';
    await write(`${email},${name},newsletter_${i % 5},2024-01-${String((i % 28) + 1).padStart(2, '0')},10.0.${i % 256}.${i % 200},"City ${i % 40}"\r\n`);
  }
  out.end();
  await once(out, 'finish');
}

function runChild(file: string, databaseUrl: string | null, dryRun: boolean): Promise<ChildResult> {
  const tsx = path.resolve(__dirname, '../../node_modules/.bin/tsx');
  const env: NodeJS.ProcessEnv = { ...process.env, IMPORT_BENCH_CHILD: '1', IMPORT_BENCH_FILE: file, IMPORT_BENCH_DRY_RUN: dryRun ? '1' : '' };
  delete env.SUPABASE_URL;
  delete env.SUPABASE_SERVICE_ROLE_KEY;
  if (databaseUrl) env.DATABASE_URL = databaseUrl;
  else delete env.DATABASE_URL;
  return new Promise((resolve, reject) => {
    execFile(tsx, [__filename], { env, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`import bench child failed: ${stderr || err.message}`));
      const last = stdout.trim().split('\n').pop() ?? '';
      resolve(JSON.parse(last) as ChildResult);
    });
  });
}

async function child(): Promise<void> {
  const { importSubscribersFromFile } = await import('../../lib/import/index.js');
  const { createPostgresDb } = await import('../../lib/db/postgres.js');
  const file = env('IMPORT_BENCH_FILE')!;
  const url = env('DATABASE_URL');
  const db = url ? createPostgresDb(url, { max: 2 }) : null;
  const baselineRss = process.memoryUsage().rss;
  let peakRss = process.memoryUsage().rss;
  let peakHeap = process.memoryUsage().heapUsed;
  const sample = () => {
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed);
  };
  const timer = setInterval(sample, 10);
  const started = process.hrtime.bigint();
  const s = await importSubscribersFromFile(db, file, { dryRun: Boolean(env('IMPORT_BENCH_DRY_RUN')) });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  clearInterval(timer);
  sample();
  peakRss = Math.max(peakRss, process.resourceUsage().maxRSS * 1024);
  await db?.close();
  const result: ChildResult = {
    read: s.read,
    inserted: s.inserted,
    updated: s.updated,
    unchanged: s.unchanged,
    rejected: s.rejected,
    duplicates: s.duplicates,
    seconds,
    peakRssMb: peakRss / 1024 / 1024,
    peakHeapMb: peakHeap / 1024 / 1024,
    baselineRssMb: baselineRss / 1024 / 1024,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

export async function run(): Promise<Figure[]> {
  const { startEmbeddedPostgres } = await import('../db/embedded.js');
  const { migrate } = await import('../db/migrate.js');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-import-'));
  const file = path.join(tmp, 'export-100k.csv');
  // Its own directory: when run as root, Postgres runs as another user, who cannot enter `tmp`.
  const pgDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-import-pg-'));
  const server = await startEmbeddedPostgres({ dataDir: pgDir });
  try {
    await writeExport(file, ROWS);
    await migrate(server.url);
    const first = await runChild(file, server.url, false);
    const again = await runChild(file, server.url, false);
    const dry = await runChild(file, null, true);
    const mb = (fs.statSync(file).size / 1024 / 1024).toFixed(1);
    const counts = `${first.inserted} inserted, ${first.rejected} rejected, ${first.duplicates} duplicates`;
    const rate = (r: ChildResult) => Math.round(r.read / r.seconds);
    return [
      {
        name: `import ${ROWS.toLocaleString('en')} rows into an empty list (${mb} MB file)`,
        value: rate(first),
        unit: 'rows/s',
        goal: '>= 20000',
        ok: rate(first) >= 20_000 && first.inserted === ROWS - 2000,
        note: `${first.seconds.toFixed(2)} s; ${counts}`,
      },
      {
        name: 'peak memory of that import (process RSS)',
        value: Math.round(first.peakRssMb),
        unit: 'MB',
        goal: '< 200',
        ok: first.peakRssMb < 200,
        note: `${Math.round(first.baselineRssMb)} MB of it before the first row (Node, tsx, modules); peak JS heap ${Math.round(first.peakHeapMb)} MB`,
      },
      {
        name: 'the same file again (every row unchanged)',
        value: rate(again),
        unit: 'rows/s',
        goal: '>= 20000',
        ok: rate(again) >= 20_000 && again.unchanged === ROWS - 2000 && again.inserted === 0,
        note: `${again.seconds.toFixed(2)} s; peak RSS ${Math.round(again.peakRssMb)} MB`,
      },
      {
        name: 'validation only (--dry-run, no database)',
        value: rate(dry),
        unit: 'rows/s',
        note: `${dry.seconds.toFixed(2)} s; peak RSS ${Math.round(dry.peakRssMb)} MB`,
      },
    ];
  } finally {
    await server.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.rmSync(pgDir, { recursive: true, force: true });
  }
}

if (env('IMPORT_BENCH_CHILD')) {
  child().catch((err) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
