/**
 * Feedback loop figures: SNS notifications applied per second (signature verified with the
 * certificate cached, event stored and applied in Postgres), and unsubscribe POSTs per
 * second (RFC 8058 one-click through the exported handler). In-process, against a real
 * embedded Postgres started here with every migration applied.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { createUnsubscribeHandlers } from '../../api/unsubscribe';
import { createLedger } from '../../lib/db/ledger';
import { startEmbeddedPostgres } from '../db/embedded';
import { migrate } from '../db/migrate';
import { createPostgresDb } from '../../lib/db/postgres';
import { handleSnsRequest } from '../../lib/feedback';
import { setLogSink } from '../../lib/log';
import { unsubscribeToken } from '../../lib/unsubscribe';
import { createSnsSigner } from '../fakes/sns';
import type { Figure } from '../bench';
import { mailoutIdFromName } from '../../lib/mailout-id';

const MAILOUT = mailoutIdFromName('bench-mailout');

const SUBSCRIBERS = 5000;
const NOTIFICATIONS = 3000;
const UNSUBSCRIBES = 3000;
const CONCURRENCY = 16;

async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

export async function run(): Promise<Figure[]> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailout-bench-feedback-'));
  const server = await startEmbeddedPostgres({ dataDir, persistent: false });
  const restoreSink = setLogSink(() => undefined);
  const figures: Figure[] = [];
  try {
    const admin = new Client({ connectionString: server.url });
    await admin.connect();
    await admin.query('create database bench_feedback');
    await admin.end();
    const url = server.url.replace(/\/postgres$/, '/bench_feedback');
    await migrate(url);
    const db = createPostgresDb(url, { max: CONCURRENCY });
    const c = new Client({ connectionString: url });
    await c.connect();
    await c.query(
      `insert into subscribers (email, source) select 'bench' || g || '@example.com', 'bench' from generate_series(1, $1) g`,
      [SUBSCRIBERS],
    );

    // A sent mailout: every subscriber has a delivery with an SES message id.
    const ledger = createLedger(db);
    const claim = await ledger.claim(MAILOUT, { leaseSeconds: 600, content: { subject: 'Bench' } });
    const run = ledger.run({ mailoutId: MAILOUT, leaseToken: claim.leaseToken!, leaseSeconds: 600 });
    const recipients: { subscriberId: string; email: string; sesId: string }[] = [];
    for (;;) {
      const batch = await run.claimBatch({ limit: 1000 });
      if (batch.length === 0) break;
      const rows = batch.map((b) => ({ subscriberId: b.subscriberId, email: b.email, sesId: `bench-${randomUUID()}` }));
      await run.record(rows.map((r) => ({ subscriberId: r.subscriberId, status: 'sent' as const, sesMessageId: r.sesId })));
      recipients.push(...rows);
    }

    // --- SNS notifications: a realistic mix (deliveries, soft and hard bounces, complaints).
    const sns = createSnsSigner();
    const config = { snsAllowedTopicArns: [sns.topicArn], softBounceLimit: 3 };
    const mail = (r: (typeof recipients)[number]) => ({ messageId: r.sesId, destination: [r.email], tags: { mailout_id: [MAILOUT] } });
    const bodies = Array.from({ length: NOTIFICATIONS }, (_, i) => {
      const r = recipients[i % recipients.length]!;
      const kind = i % 20;
      const message =
        kind < 16
          ? { eventType: 'Delivery', mail: mail(r), delivery: { recipients: [r.email], smtpResponse: '250 ok' } }
          : kind < 18
            ? { eventType: 'Bounce', mail: mail(r), bounce: { bounceType: 'Transient', bounceSubType: 'MailboxFull', feedbackId: randomUUID(), bouncedRecipients: [{ emailAddress: r.email, status: '4.2.2' }] } }
            : kind < 19
              ? { eventType: 'Bounce', mail: mail(r), bounce: { bounceType: 'Permanent', bounceSubType: 'General', feedbackId: randomUUID(), bouncedRecipients: [{ emailAddress: r.email, status: '5.1.1' }] } }
              : { eventType: 'Complaint', mail: mail(r), complaint: { feedbackId: randomUUID(), complainedRecipients: [{ emailAddress: r.email }] } };
      return JSON.stringify(sns.notification({ Message: JSON.stringify(message) }, i % 2 ? '2' : '1'));
    });
    let refreshes = 0;
    const deps = {
      db,
      config,
      fetchCertificate: sns.fetchStub,
      refreshNotionCounts: async () => {
        refreshes += 1;
      },
    };
    // Warm-up: the certificate is fetched once and cached.
    await handleSnsRequest(JSON.stringify(sns.notification({ Message: '{}' })), deps);
    let failures = 0;
    const t0 = process.hrtime.bigint();
    await pool(bodies, CONCURRENCY, async (body) => {
      const r = await handleSnsRequest(body, deps);
      if (r.status !== 200) failures += 1;
    });
    const snsSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const snsRate = NOTIFICATIONS / snsSeconds;
    figures.push({
      name: 'SNS notifications applied (verified, cert cached, stored)',
      value: snsRate,
      unit: '/s',
      goal: '>= 300/s',
      ok: snsRate >= 300 && failures === 0,
      note: `${NOTIFICATIONS} in ${snsSeconds.toFixed(2)} s, concurrency ${CONCURRENCY}, ${failures} failed, ${sns.fetchStub.calls.length} cert fetch, ${refreshes} Notion refreshes`,
    });

    // --- Unsubscribe POSTs (RFC 8058 one-click) through the exported handler.
    await c.query(`update subscribers set status = 'active'`);
    const secret = 'bench-unsubscribe-secret-0123456789';
    const { POST } = createUnsubscribeHandlers(() => ({ ledger, config: { unsubscribeSecret: secret, listName: 'Bench' } }));
    const targets = recipients.slice(0, UNSUBSCRIBES).map((r) => unsubscribeToken(secret, r.subscriberId));
    let badStatus = 0;
    const t1 = process.hrtime.bigint();
    await pool(targets, CONCURRENCY, async (token) => {
      const res = await POST(
        new Request(`https://bench.example/api/unsubscribe?token=${token}`, {
          method: 'POST',
          body: new URLSearchParams({ 'List-Unsubscribe': 'One-Click' }),
        }),
      );
      await res.text();
      if (res.status !== 200) badStatus += 1;
    });
    const unsubSeconds = Number(process.hrtime.bigint() - t1) / 1e9;
    const unsubRate = targets.length / unsubSeconds;
    const { rows } = await c.query(`select count(*)::int as n from subscribers where status = 'unsubscribed'`);
    figures.push({
      name: 'unsubscribe POSTs (one-click, handler + Postgres)',
      value: unsubRate,
      unit: '/s',
      goal: '>= 500/s',
      ok: unsubRate >= 500 && badStatus === 0 && rows[0].n >= targets.length,
      note: `${targets.length} in ${unsubSeconds.toFixed(2)} s, concurrency ${CONCURRENCY}, ${badStatus} non-200`,
    });

    await c.end();
    await db.close();
  } finally {
    setLogSink(restoreSink);
    await server.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  return figures;
}
