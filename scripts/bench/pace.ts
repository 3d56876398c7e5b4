/**
 * The pace with a real deploy's latency: `npm run bench -- pace`.
 *
 * A Vercel function in Washington with its Supabase project in Europe has 80-100 ms between
 * it and the database, and SES answers in ~80 ms (slower tail, the odd throttle). Each cell of
 * the matrix sends a whole mailout through the real sender in its own process (the `send`
 * bench's child: `startMailout` then `runSendLoop`, real adapters, SESv2 SDK over HTTP), with
 * no SEND_CONCURRENCY: the sender finds its concurrency itself.
 *
 * - Database: the embedded Postgres (fsync on) behind a TCP proxy on loopback that delays
 *   every chunk by half the round trip each way (scripts/lib/latency-proxy.ts). Adapter `pg`:
 *   DATABASE_URL through the proxy; adapter `supabase`: supabase-js → the proxy → the PostgREST
 *   fake of scripts/fakes/postgrest.ts → Postgres (the latency sits where it does on a deploy:
 *   between the function and Supabase's API).
 * - SES: the fake of scripts/fakes/ses.ts, answering after a log-normal time (median 80 ms,
 *   p99 400 ms), account MaxSendRate = the rate, and a throttle (429 TooManyRequestsException)
 *   every ⌈rate × 30 s⌉-th call (at most N), half-way through each interval: twice in a 60 s
 *   cell, once in a shorter one.
 * - Matrix: rate 6, 14, 50, 200 /s × database round trip 1, 20, 90 ms × both adapters.
 *
 * Figures per cell: wall time (request to end of run) / (N / rate), goal ≤ 1.02; the busiest
 * one-second window of SendEmail arrivals at SES, goal ≤ rate; database round trips per
 * recipient; the most messages marked and not yet recorded at once (what a crash at the worst
 * moment would leave `unknown`) against the ceiling; the sender's CPU per recipient. Then the
 * throttle-recovery curve of issue 17 (40/s, every 7th of the first 120 calls throttled), in
 * virtual time.
 *
 * N = rate × PACE_BENCH_SECONDS (default 60 s per cell: about 30 minutes for the matrix).
 * PACE_BENCH_QUICK=1: 10 s per cell (about 6 minutes). PACE_BENCH_RATES=6,14,
 * PACE_BENCH_RTTS=90, PACE_BENCH_ADAPTERS=pg pick cells.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Pool } from 'pg';
import { env } from '../../lib/config';
import type { Figure } from '../bench';
import { withBenchDatabase } from '../lib/bench-db';
import { startLatencyProxy, throughProxy } from '../lib/latency-proxy';
import { busiestWindow } from '../lib/window';
import { baseEnv, ledger, LETTER, load, runChild, seed, type ChildResult } from './send';

type Adapter = 'pg' | 'supabase';
const SERVICE_KEY = 'bench-service-role-key-0123456789abcdef';

const list = (v: string | undefined, def: number[]) => (v ? v.split(',').map(Number).filter((x) => x > 0) : def);

/** Log-normal SES latency: median 80 ms, p99 400 ms (σ = ln 5 / 2.326). */
function sesLatency(random: () => number): number {
  const u = Math.max(1e-12, random());
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  return Math.min(3000, 80 * Math.exp((Math.log(5) / 2.326) * z));
}

interface Cell {
  adapter: Adapter;
  rate: number;
  rttMs: number;
  n: number;
}

interface CellResult {
  cell: Cell;
  r: ChildResult;
  ratio: number;
  busiest: number;
  throttles: number;
  roundTrips: number;
  sesP50: number;
  sesP99: number;
  /** Request → first SES arrival, and last SES arrival → end of the run, ms. */
  headMs: number;
  tailMs: number;
}

async function resetTables(url: string): Promise<void> {
  const pool = new Pool({ connectionString: url, max: 1 });
  try {
    await pool.query('truncate table public.deliveries, public.mailouts, public.subscribers cascade');
  } finally {
    await pool.end();
  }
}

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};

async function runCell(url: string, dbTarget: { url: string; postgrestUrl: string }, cell: Cell, letterFile: string): Promise<CellResult> {
  const { startFakeSes } = await import('../fakes/ses.js');
  await resetTables(url);
  await seed(url, cell.n);
  const proxy = await startLatencyProxy(
    (() => {
      const u = new URL(cell.adapter === 'pg' ? dbTarget.url : dbTarget.postgrestUrl);
      return { host: u.hostname, port: Number(u.port) };
    })(),
    cell.rttMs / 2,
  );
  let seedState = cell.rate * 1000 + cell.rttMs;
  const random = () => {
    seedState = (seedState * 1103515245 + 12345) % 2147483648;
    return seedState / 2147483648;
  };
  const arrivals: number[] = [];
  const epochs: number[] = [];
  const latencies: number[] = [];
  const recipients = new Set<string>();
  const throttleEvery = Math.max(2, Math.min(Math.ceil(cell.rate * 30), cell.n));
  const ses = await startFakeSes({
    latencyMs: (call) => {
      const ms = sesLatency(random);
      if (call) latencies.push(ms);
      return ms;
    },
    keepCalls: false,
    account: { SendQuota: { Max24HourSend: -1, MaxSendRate: cell.rate } },
    // Mid-interval, so that a cell's last call is never the throttled one.
    failures: [{ when: (call) => call.n % throttleEvery === Math.floor(throttleEvery / 2), error: 'TooManyRequestsException' }],
    onCall: (call) => {
      arrivals.push(call.receivedAt);
      epochs.push(call.at.getTime());
      if (call.outcome.status === 200) for (const to of call.to) recipients.add(to);
    },
  });
  const mailoutId = randomUUID();
  const env: Record<string, string> = {
    ...baseEnv(cell.adapter === 'pg' ? throughProxy(dbTarget.url, proxy) : url, ses.url),
    RATE_LIMIT_PER_SEC: String(cell.rate),
    MAX_DURATION_SECONDS: '900',
    ...(cell.adapter === 'supabase'
      ? { SUPABASE_URL: `http://127.0.0.1:${proxy.port}`, SUPABASE_SERVICE_ROLE_KEY: SERVICE_KEY }
      : {}),
  };
  let r: ChildResult;
  try {
    r = await runChild(env, { mailoutId, letterFile }, `pace-${cell.adapter}-${cell.rate}-${cell.rttMs}`);
  } finally {
    await ses.close();
    await proxy.close();
  }
  const check = await ledger(url, mailoutId);
  const throttles = ses.callCount - ses.sentCount;
  const verdict = `SES: ${ses.callCount} calls, ${ses.sentCount} accepted, ${throttles} throttled, ${recipients.size} distinct recipients; ledger: ${check.status} ${JSON.stringify(check.counts)}; run: ${r.outcome}`;
  if (recipients.size !== cell.n || ses.sentCount !== cell.n || check.status !== 'sent' || check.counts.sent !== cell.n || r.outcome !== 'complete') {
    throw new Error(`pace bench (${cell.adapter}, ${cell.rate}/s, ${cell.rttMs} ms): not exactly once each: ${verdict}`);
  }
  const wallS = r.totalMs / 1000;
  return {
    cell,
    r,
    ratio: wallS / (cell.n / cell.rate),
    busiest: busiestWindow(arrivals),
    throttles,
    roundTrips: Object.values(r.rpc).reduce((a, b) => a + b, 0) / cell.n,
    sesP50: percentile(latencies, 50),
    sesP99: percentile(latencies, 99),
    headMs: Math.min(...epochs) - r.startedAtEpochMs,
    tailMs: r.startedAtEpochMs + r.totalMs - Math.max(...epochs),
  };
}

function cellFigures(c: CellResult, seconds: number): Figure[] {
  const { adapter, rate, rttMs, n } = c.cell;
  const label = `${adapter.padEnd(8)} ${String(rate).padStart(3)}/s, DB RTT ${String(rttMs).padStart(2)} ms`;
  const per = (fn: string) => ((c.r.rpc[fn] ?? 0) / n).toFixed(3);
  const each = (fn: string) => ((c.r.rpcMs[fn] ?? 0) / Math.max(1, c.r.rpc[fn] ?? 0)).toFixed(0);
  return [
    {
      name: `${label}: wall / (N / rate)`,
      value: c.ratio,
      unit: '',
      goal: '<= 1.02',
      ok: c.ratio <= 1.02,
      note: `N ${n} (${seconds} s at the rate${seconds < 60 ? ': a quick run, shorter than the 60 s goal' : ''}), ${(c.r.totalMs / 1000).toFixed(2)} s vs ${(n / rate).toFixed(2)} s; request → first SendEmail ${c.headMs.toFixed(0)} ms (answered after ${c.r.answerMs.toFixed(0)} ms), last SendEmail → end ${c.tailMs.toFixed(0)} ms; ${c.throttles} throttled; SES p50 ${c.sesP50.toFixed(0)} ms p99 ${c.sesP99.toFixed(0)} ms`,
    },
    {
      name: `${label}: busiest 1 s of SES arrivals`,
      value: c.busiest,
      unit: 'calls',
      goal: `<= ${rate}`,
      ok: c.busiest <= rate,
    },
    {
      name: `${label}: DB round trips per recipient`,
      value: c.roundTrips,
      unit: '',
      note: `send_trip ${per('send_trip')} (${each('send_trip')} ms each), claim_batch ${per('claim_batch')}`,
    },
    {
      name: `${label}: worst-case unknown after a crash`,
      value: c.r.peakUnrecorded,
      unit: 'messages',
      goal: `<= ceiling ${c.r.maxConcurrency}`,
      ok: c.r.peakUnrecorded <= c.r.maxConcurrency,
      note: `the most marked and not yet recorded at once; places in flight at most ${c.r.peakConcurrency}; sender CPU ${(c.r.cpuMs / n).toFixed(3)} ms per recipient, peak RSS ${Math.round(c.r.peakRssMb)} MB`,
    },
  ];
}

/** Issue 17's throttling, in virtual time: the curve of the pace, calls per second. */
async function recoveryCurve(): Promise<Figure[]> {
  const { runThrottleScenario, everyNthOfFirst, callsPerSecond, rateAt } = await import('../fakes/throttle-scenario.js');
  const run = await runThrottleScenario({ rate: 40, recipients: 240, throttled: everyNthOfFirst(7, 120) });
  const last = run.throttles[run.throttles.length - 1] ?? 0;
  const back = run.rates.find(([t, r]) => t >= last && r >= 40)?.[0] ?? Number.POSITIVE_INFINITY;
  const curve = callsPerSecond(run);
  return [
    {
      name: '40/s, every 7th of the first 120 calls throttled: back at 40/s after the last throttle',
      value: (back - last) / 1000,
      unit: 's',
      goal: '<= 10 s',
      ok: back - last <= 10_000,
      note: `virtual time; ${run.throttles.length} throttles, the last at ${(last / 1000).toFixed(1)} s; rate 10 s after it ${rateAt(run, last + 10_000)}/s`,
    },
    {
      name: '  240 recipients: time to send (N/rate 6 s; the old pacer: ~150 s)',
      value: run.durationMs / 1000,
      unit: 's',
      note: `SendEmail calls per second: ${curve.join(' ')}; busiest 1 s window ${busiestWindow(run.calls)} (goal <= 40)`,
    },
  ];
}

export async function run(): Promise<Figure[]> {
  const quick = Boolean(env('PACE_BENCH_QUICK'));
  const seconds = Number(env('PACE_BENCH_SECONDS') ?? (quick ? 10 : 60));
  const rates = list(env('PACE_BENCH_RATES'), [6, 14, 50, 200]);
  const rtts = list(env('PACE_BENCH_RTTS'), [1, 20, 90]);
  const adapters = (env('PACE_BENCH_ADAPTERS') ?? 'pg,supabase').split(',').filter((a): a is Adapter => a === 'pg' || a === 'supabase');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-pace-letter-'));
  const letterFile = path.join(tmp, 'letter.md');
  fs.writeFileSync(letterFile, LETTER);
  const figures: Figure[] = [...(await recoveryCurve())];
  const loadBefore = load();
  try {
    await withBenchDatabase(async (url) => {
      const { startFakePostgrest } = await import('../fakes/postgrest.js');
      const postgrest = await startFakePostgrest(url, SERVICE_KEY);
      const results: CellResult[] = [];
      try {
        for (const adapter of adapters) {
          for (const rttMs of rtts) {
            for (const rate of rates) {
              const c = await runCell(url, { url, postgrestUrl: postgrest.url }, { adapter, rate, rttMs, n: Math.round(rate * seconds) }, letterFile);
              results.push(c);
              const out = cellFigures(c, seconds);
              figures.push(...out);
              // Progress as it goes: a full matrix takes half an hour.
              console.error(`  … ${adapter} ${rate}/s RTT ${rttMs} ms: ratio ${c.ratio.toFixed(3)}, busiest ${c.busiest}, ${c.roundTrips.toFixed(2)} round trips/recipient, worst unknown ${c.r.peakUnrecorded}`);
            }
          }
        }
      } finally {
        await postgrest.close();
      }
      const worst = results.reduce((a, b) => (b.ratio > a.ratio ? b : a));
      figures.push({
        name: 'worst cell: wall / (N / rate)',
        value: worst.ratio,
        unit: '',
        goal: '<= 1.02',
        ok: worst.ratio <= 1.02,
        note: `${worst.cell.adapter} ${worst.cell.rate}/s RTT ${worst.cell.rttMs} ms; ${results.length} cells of ${seconds} s; no SEND_CONCURRENCY; load ${loadBefore} → ${load()}`,
      });
    });
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return figures;
}
