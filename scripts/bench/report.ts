/**
 * Report benchmark: `npm run report` (the real CLI, in a child process) writes the CSV of a
 * 100,000- and a 1,000,000-recipient mailout to a file, page by page. Prints the time and the
 * CLI's peak RSS at each size: the goal is memory flat in N (one page in memory), under 150 MB.
 * The child is this file with REPORT_BENCH_CHILD set: it runs scripts/report.ts as `npm run
 * report` does and records its own peak RSS when it exits.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { env } from '../../lib/config';
import type { Figure } from '../bench';
import { withBenchDatabase } from '../lib/bench-db';

const SIZES = [100_000, 1_000_000];

/** A claimed mailout of `n` recipients, mostly sent, with every other status among them. */
async function seedMailout(url: string, mailoutId: string, n: number): Promise<void> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(`insert into mailouts (id, status) values ($1, 'sent')`, [mailoutId]);
    await c.query(
      `insert into deliveries (mailout_id, subscriber_id, email, status, ses_message_id, error_code, error_message, attempts)
       select $1, gen_random_uuid(), 'reader.' || g || '@example' || (g % 97) || '.com',
              s, case when s = 'sent' then '0100018c-' || md5($1 || g) || '-000000' end,
              case when s = 'failed' then 'MessageRejected' end,
              case when s = 'failed' then 'Email address is not verified.' end, 1
         from generate_series(1, $2) g,
              lateral (select case when g % 100 = 1 then 'failed' when g % 100 = 2 then 'skipped' when g % 1000 = 3 then 'unknown' else 'sent' end as s) st`,
      [mailoutId, n],
    );
    await c.query('analyze deliveries');
  } finally {
    await c.end();
  }
}

interface ChildResult {
  seconds: number;
  peakRssMb: number;
  bytes: number;
  lines: number;
}

async function runCli(url: string, mailoutId: string, out: string): Promise<ChildResult> {
  const tsx = path.resolve(__dirname, '../../node_modules/.bin/tsx');
  const rssFile = `${out}.rss`;
  const env: NodeJS.ProcessEnv = { ...process.env, REPORT_BENCH_CHILD: rssFile, DATABASE_URL: url };
  delete env.SUPABASE_URL;
  delete env.SUPABASE_SERVICE_ROLE_KEY;
  const fd = fs.openSync(out, 'w');
  const started = process.hrtime.bigint();
  let stderr = '';
  try {
    const child = spawn(tsx, [__filename, mailoutId], { env, stdio: ['ignore', fd, 'pipe'] });
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    if (code !== 0) throw new Error(`report bench child failed (${code}): ${stderr}`);
  } finally {
    fs.closeSync(fd);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const csv = fs.readFileSync(out);
  let lines = 0;
  for (let i = csv.indexOf(10); i !== -1; i = csv.indexOf(10, i + 1)) lines += 1;
  return { seconds, peakRssMb: Number(fs.readFileSync(rssFile, 'utf8')) / 1024 / 1024, bytes: csv.length, lines };
}

export async function run(): Promise<Figure[]> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-report-'));
  try {
    return await withBenchDatabase(async (url) => {
      const results: { n: number; r: ChildResult }[] = [];
      for (const [i, n] of SIZES.entries()) {
        const mailoutId = `00000000-0000-4000-8000-00000000000${i + 1}`;
        await seedMailout(url, mailoutId, n);
        results.push({ n, r: await runCli(url, mailoutId, path.join(tmp, `report-${n}.csv`)) });
      }
      const small = results[0]!.r;
      const large = results[results.length - 1]!.r;
      const figures: Figure[] = results.flatMap(({ n, r }) => [
        {
          name: `npm run report: ${n.toLocaleString('en')} recipients to a file`,
          value: r.seconds,
          unit: 's',
          ok: r.lines === n + 1,
          note: `${(r.bytes / 1024 / 1024).toFixed(0)} MB, ${Math.round(n / r.seconds).toLocaleString('en')} rows/s, ${r.lines - 1} rows written`,
        },
        {
          name: `  its peak memory (CLI process RSS) at ${n.toLocaleString('en')}`,
          value: Math.round(r.peakRssMb),
          unit: 'MB',
          goal: '< 150',
          ok: r.peakRssMb < 150,
        },
      ]);
      figures.push({
        name: `peak RSS at ${SIZES[SIZES.length - 1]!.toLocaleString('en')} / at ${SIZES[0]!.toLocaleString('en')} (flat in N)`,
        value: large.peakRssMb / small.peakRssMb,
        unit: '×',
        goal: '<= 1.2',
        ok: large.peakRssMb / small.peakRssMb <= 1.2,
      });
      return figures;
    });
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

const rssFile = env('REPORT_BENCH_CHILD');
if (rssFile) {
  process.on('exit', () => fs.writeFileSync(rssFile, String(process.resourceUsage().maxRSS * 1024)));
  process.argv = [process.argv[0]!, path.resolve(__dirname, '../report.ts'), ...process.argv.slice(2)];
  void import('../report.js');
}
