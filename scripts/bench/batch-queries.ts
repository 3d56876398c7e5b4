/**
 * The cost of each batch as the list grows (issue 21, item 5): every query the send loop makes
 * per batch (claim_batch, begin_sends, record_results, send_trip (which replaces the two: the
 * outcomes of the previous batch and the marks of this one in one call), and the auto-pause and progress reads
 * mailout_feedback_stats and mailout_counts), timed in the middle of a send of 100,000 and of
 * 1,000,000 recipients (the whole list copied into the ledger, half of it already sent, 2% of
 * those with SES feedback), so that the ledger and its indexes hold N rows. Goal: each
 * under 10 ms, and at 1M within 2x of its time at 100k. "one-row write" (claim_notion_refresh,
 * one row updated and committed) is the floor of any write on this machine, fsync on.
 * `BATCH_BENCH_SIZES=10000,100000` to run other sizes.
 */
import { Pool } from 'pg';
import { createLedger, type SendResult } from '../../lib/db/ledger';
import { createPostgresDb } from '../../lib/db/postgres';
import { claimNotionRefresh, mailoutFeedbackStats } from '../../lib/feedback/store';
import { mailoutIdFromName } from '../../lib/mailout-id';
import { env } from '../../lib/config';
import type { Figure } from '../bench';
import { withBenchDatabase } from '../lib/bench-db';

const QUERIES = ['claim_batch', 'begin_sends', 'record_results', 'send_trip', 'mailout_feedback_stats', 'mailout_counts', 'one-row write'] as const;
type Query = (typeof QUERIES)[number];
const ROUNDS = 100;
const BATCH = 50;
const GOAL_MS = 10;

/** A list of n, claimed and copied whole, half of it sent, 2% of the sent with a Delivery or a Bounce stored. */
async function midSend(url: string, n: number): Promise<{ id: string; token: string }> {
  const pool = new Pool({ connectionString: url });
  try {
    await pool.query(`insert into subscribers (email, name, source) select 'reader' || g || '@example.com', 'Reader ' || g, 'bench' from generate_series(1, $1) g`, [n]);
    await pool.query('analyze subscribers');
    const db = createPostgresDb(url, { max: 1 });
    const id = mailoutIdFromName(`bench-batch-${n}`);
    const claim = await createLedger(db).claim(id, { leaseSeconds: 3600, content: { subject: 'Bench' } });
    await db.close();
    // The rest of the copy at once (claim_batch would copy it chunk by chunk as the send goes).
    await pool.query(
      `insert into deliveries (mailout_id, subscriber_id, email)
       select $1, s.id, s.email from subscribers s where s.status = 'active'
       on conflict (mailout_id, subscriber_id) do nothing`,
      [id],
    );
    await pool.query('update mailouts set snapshot_done = true where id = $1', [id]);
    await pool.query(
      `update deliveries set status = 'sent', ses_message_id = 'bench-' || subscriber_id, attempts = 1
        where mailout_id = $1 and subscriber_id < '80000000-0000-0000-0000-000000000000'`,
      [id],
    );
    await pool.query(
      `insert into ses_events (sns_message_id, event_type, ses_message_id, email, payload, bounce_class, mailout_id, subscriber_id)
       select 'bench-sns-' || d.subscriber_id, case when random() < 0.5 then 'Delivery' else 'Bounce' end, d.ses_message_id, d.email, '{}',
              null, d.mailout_id, d.subscriber_id
         from deliveries d where d.mailout_id = $1 and d.status = 'sent' and random() < 0.02`,
      [id],
    );
    await pool.query(`update ses_events set bounce_class = 'hard' where event_type = 'Bounce'`);
    await pool.query(
      `update deliveries d set fb_delivered = e.event_type = 'Delivery', fb_hard_bounce = e.event_type = 'Bounce'
         from ses_events e where e.ses_message_id = d.ses_message_id and d.mailout_id = $1`,
      [id],
    );
    await pool.query('vacuum analyze deliveries');
    await pool.query('vacuum analyze ses_events');
    await pool.query('vacuum analyze mailouts');
    return { id, token: claim.leaseToken! };
  } finally {
    await pool.end();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Each per-batch query's median time over ROUNDS batches, as the send loop makes them. */
async function timeBatches(url: string, m: { id: string; token: string }): Promise<Record<Query, number>> {
  const db = createPostgresDb(url, { max: 1 });
  const times = Object.fromEntries(QUERIES.map((q) => [q, [] as number[]])) as Record<Query, number[]>;
  const timed = async <T>(q: Query, fn: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const out = await fn();
    times[q].push(performance.now() - t0);
    return out;
  };
  const run = createLedger(db).run({ mailoutId: m.id, leaseToken: m.token, leaseSeconds: 3600 });
  const sent = (ids: string[]): SendResult[] => ids.map((s) => ({ subscriberId: s, status: 'sent', sesMessageId: `bench-r-${s}` }));
  let marked: string[] = [];
  try {
    for (let i = 0; i < ROUNDS; i++) {
      const batch = await timed('claim_batch', () => run.claimBatch({ limit: BATCH }));
      const ids = batch.map((b) => b.subscriberId);
      await timed('begin_sends', () => run.begin(ids));
      await timed('record_results', () => run.record(sent(ids)));
      // The send loop's way since issue 24: the previous batch's outcomes ride with this batch's marks.
      const next = (await run.claimBatch({ limit: BATCH })).map((b) => b.subscriberId);
      await timed('send_trip', () => run.trip(next, sent(marked)));
      marked = next;
      await timed('mailout_feedback_stats', () => mailoutFeedbackStats(db, m.id));
      await timed('mailout_counts', () => run.counts());
      // For scale: the floor of any write here (one row, committed with fsync on).
      await timed('one-row write', () => claimNotionRefresh(db, m.id, 0));
    }
  } finally {
    await db.close();
  }
  return Object.fromEntries(QUERIES.map((q) => [q, median(times[q])])) as Record<Query, number>;
}

export async function run(): Promise<Figure[]> {
  const sizes = (env('BATCH_BENCH_SIZES') ?? '100000,1000000').split(',').map(Number);
  const results: { n: number; ms: Record<Query, number> }[] = [];
  for (const n of sizes) {
    results.push({ n, ms: await withBenchDatabase(async (url) => timeBatches(url, await midSend(url, n))) });
  }
  const figures: Figure[] = [];
  for (const q of QUERIES) {
    for (const r of results) {
      figures.push({
        name: `${q}${q === 'one-row write' ? ' (the floor)' : ` per batch of ${BATCH}`}, ${r.n.toLocaleString('en')} recipients (median)`,
        value: Number(r.ms[q].toFixed(2)),
        unit: 'ms',
        goal: `< ${GOAL_MS} ms`,
        ok: r.ms[q] < GOAL_MS,
      });
    }
    const [small, large] = [results[0]!, results[results.length - 1]!];
    if (large.n > small.n) {
      const ratio = large.ms[q] / small.ms[q];
      figures.push({
        name: `${q}: time at ${large.n.toLocaleString('en')} / at ${small.n.toLocaleString('en')}`,
        value: Number(ratio.toFixed(2)),
        unit: 'x',
        goal: '<= 2x',
        ok: ratio <= 2,
      });
    }
  }
  return figures;
}
