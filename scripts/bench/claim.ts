/**
 * A claim at any list size: each statement of claiming a mailout of 100,000 and of 1,000,000
 * active subscribers and of its first batches, timed alone, under Supabase's 8 s statement
 * timeout for service_role. claim_mailout fixes the recipients and copies the first chunk
 * (2,000); claim_batch copies the next chunk whenever the copied queue runs dry.
 */
import { Pool } from 'pg';
import { createLedger } from '../../lib/db/ledger';
import { createPostgresDb } from '../../lib/db/postgres';
import type { Db } from '../../lib/db/types';
import type { Figure } from '../bench';
import { seedBenchSubscribers, withBenchDatabase } from '../lib/bench-db';
import { mailoutIdFromName } from '../../lib/mailout-id';

const SIZES = [100_000, 1_000_000];
const STATEMENT_TIMEOUT_MS = 8000;
const GOAL_MS = 1000;
const BATCH = 1000;
/** 25 batches of 1,000 cross a dozen chunk copies. */
const BATCHES = 25;
/** private.snapshot_recipients' chunk. */
const CHUNK = '2,000';

async function truncate(url: string): Promise<void> {
  const pool = new Pool({ connectionString: url });
  await pool.query('truncate subscribers, mailouts, deliveries cascade');
  await pool.end();
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t0 };
}

function statementFigure(name: string, ms: number, note?: string): Figure {
  return { name, value: Math.round(ms), unit: 'ms', goal: `< ${GOAL_MS} ms`, ok: ms < GOAL_MS, ...(note ? { note } : {}) };
}

/** Claim, then the first batches (recorded as sent), timing each statement. */
async function claimAndFirstBatches(db: Db, n: number): Promise<Figure[]> {
  const mailoutId = mailoutIdFromName(`bench-claim-${n}`);
  const size = n.toLocaleString('en');
  const ledger = createLedger(db);
  const claim = await timed(() => ledger.claim(mailoutId, { leaseSeconds: 3600, content: { subject: 'Bench' } }));
  const run = ledger.run({ mailoutId, leaseToken: claim.value.leaseToken!, leaseSeconds: 3600 });
  const batches: number[] = [];
  const records: number[] = [];
  const handedOut: string[] = [];
  for (let i = 0; i < BATCHES; i += 1) {
    const batch = await timed(() => run.claimBatch({ limit: BATCH }));
    batches.push(batch.ms);
    handedOut.push(...batch.value.map((b) => b.subscriberId));
    const results = batch.value.map((b) => ({ subscriberId: b.subscriberId, status: 'sent' as const, sesMessageId: `m-${b.subscriberId}` }));
    records.push((await timed(() => run.record(results))).ms);
  }
  const sorted = [...batches].sort((a, b) => a - b);
  return [
    statementFigure(`${size}: claim_mailout (fix the recipients, copy ${CHUNK})`, claim.ms, `recipients ${claim.value.recipients.toLocaleString('en')}`),
    statementFigure(`${size}: first claim_batch of ${BATCH}`, batches[0]!),
    statementFigure(`${size}: claim_batch of ${BATCH}, median`, sorted[Math.floor(sorted.length / 2)]!),
    statementFigure(`${size}: claim_batch, slowest (those that copy the next ${CHUNK})`, sorted[sorted.length - 1]!),
    statementFigure(`${size}: record_results of ${BATCH}, slowest`, Math.max(...records)),
    {
      name: `${size}: recipients handed out twice in ${BATCHES} batches`,
      value: handedOut.length - new Set(handedOut).size,
      unit: 'recipients',
      goal: '= 0',
      ok: handedOut.length === new Set(handedOut).size,
      note: `${handedOut.length.toLocaleString('en')} handed out`,
    },
  ];
}

export async function run(): Promise<Figure[]> {
  return withBenchDatabase(async (url) => {
    const figures: Figure[] = [];
    for (const n of SIZES) {
      await truncate(url);
      await seedBenchSubscribers(url, n);
      const db = createPostgresDb(url, { max: 1, statement_timeout: STATEMENT_TIMEOUT_MS });
      try {
        figures.push(...(await claimAndFirstBatches(db, n)));
      } finally {
        await db.close();
      }
    }
    return figures;
  });
}
