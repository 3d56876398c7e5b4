import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { waitUntil } from '@vercel/functions';
import { createSesEventsHandler } from '../../api/ses-events';
import { getConfig, resetConfig } from '../../lib/config';
import { getDb } from '../../lib/db';
import { startLocalStack, type LocalStack } from '../../scripts/local/stack';
import { notionCountsRefresher } from '../../lib/app';
import { createSnsSigner } from '../../scripts/fakes/sns';
import {
  block,
  checkboxProperty,
  makePage,
  richText,
  richTextProperty,
  selectProperty,
  startFakeNotion,
  titleProperty,
  type FakeNotion,
} from '../../scripts/fakes/notion';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

/**
 * The whole product over real HTTP through the local stack (`startLocalStack`: the api/
 * routes as Vercel serves them, the aws-ses-v2-local emulator, a real Postgres), with Notion
 * faked at its HTTP boundary and SNS messages signed by a test key:
 *
 *   CSV import (the CLI) → Notion automation webhook → the emails in the SES emulator →
 *   a signed SNS bounce and complaint (and a forged one) → a one-click unsubscribe →
 *   a second webhook, refused → the cron → the report CSV from the Notion page's link,
 *   which matches the ledger.
 */
const exec = promisify(execFile);
const ROOT = path.join(__dirname, '..', '..');
const PAGE = '3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f';
const NOTION_TOKEN = 'secret_e2e_notion';
const CRON_SECRET = 'e2e-cron-secret-0123456789';
const SUBSCRIBERS = 40;

const sns = createSnsSigner();
let t: TestDatabase;
let notion: FakeNotion;
let stack: LocalStack;
let tmp: string;
const savedEnv = { ...process.env };

interface StoredEmail {
  messageId: string;
  subject: string;
  destination: { to: string[] };
  body: { html?: string; text?: string };
  headers?: { name: string; value: string }[];
}

async function inbox(): Promise<StoredEmail[]> {
  const res = await fetch(`${stack.sesUrl}/store`);
  return ((await res.json()) as { emails: StoredEmail[] }).emails;
}

function header(email: StoredEmail, name: string): string | undefined {
  return email.headers?.find((h) => h.name.toLowerCase() === name.toLowerCase())?.value;
}

async function webhook(): Promise<Response> {
  // The body a Notion "Send webhook" automation action posts: the page in `data`.
  return fetch(`${stack.apiUrl}/api/send-mailout`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.secret}` },
    body: JSON.stringify({
      source: { type: 'automation', automation_id: 'auto-e2e', action_id: 'act-1', event_id: `ev-${Date.now()}`, attempt: 1 },
      data: { object: 'page', id: PAGE, properties: {} },
    }),
  });
}

async function snsPost(envelope: unknown): Promise<Response> {
  // SNS posts JSON with a text/plain content type.
  return fetch(`${stack.apiUrl}/api/ses-events`, {
    method: 'POST',
    headers: {
      'content-type': 'text/plain; charset=UTF-8',
      'x-amz-sns-message-type': 'Notification',
      'x-amz-sns-topic-arn': sns.topicArn,
    },
    body: JSON.stringify(envelope),
  });
}

function sesEvent(kind: 'Bounce' | 'Complaint', email: string, messageId: string): string {
  const fixture = JSON.parse(fs.readFileSync(path.join(ROOT, 'tests/feedback/fixtures', kind === 'Bounce' ? 'event-bounce.json' : 'event-complaint.json'), 'utf8'));
  fixture.mail.messageId = messageId;
  fixture.mail.commonHeaders.messageId = messageId;
  fixture.mail.destination = [email];
  fixture.mail.tags = { ...(fixture.mail.tags ?? {}), mailout_id: [PAGE] };
  if (kind === 'Bounce') {
    fixture.bounce.bouncedRecipients[0].emailAddress = email;
    fixture.bounce.feedbackId = `bounce-${messageId}`;
  } else {
    fixture.complaint.complainedRecipients[0].emailAddress = email;
    fixture.complaint.feedbackId = `complaint-${messageId}`;
  }
  return JSON.stringify(fixture);
}

async function subscriberStatus(email: string): Promise<string> {
  const { rows } = await t.pool.query('select status from subscribers where email = $1', [email]);
  return rows[0]?.status;
}

function parseCsv(csv: string): Record<string, string>[] {
  const [head, ...lines] = csv.trim().split('\r\n');
  const cols = head!.split(',');
  // The fields compared here hold no commas or quotes.
  return lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [cols[i]!, v])));
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mailout-e2e-'));
  t = await createTestDatabase();
  notion = await startFakeNotion({ token: NOTION_TOKEN });
  // Only pages of the Mailouts database are sent (lib/notion/membership).
  const mailoutsDb = notion.addDatabase({ title: 'Mailouts' });
  notion.addPage(
    makePage({
      id: PAGE,
      dataSourceId: mailoutsDb.dataSourceId,
      properties: {
        Name: titleProperty('Spring issue'),
        Test: checkboxProperty(false),
        Status: selectProperty('Ready'),
        Recipients: { id: 'r', type: 'number', number: null },
        Sent: { id: 's', type: 'number', number: null },
        Failed: { id: 'f', type: 'number', number: null },
        Skipped: { id: 'k', type: 'number', number: null },
        Unknown: { id: 'u', type: 'number', number: null },
        Delivered: { id: 'd', type: 'number', number: null },
        Bounced: { id: 'b', type: 'number', number: null },
        Complaints: { id: 'c', type: 'number', number: null },
        'Sent at': { id: 'at', type: 'date', date: null },
        Report: { id: 'url', type: 'url', url: null },
        'Last error': richTextProperty(''),
      },
    }),
  );
  notion.setChildren(PAGE, [
    block('heading_1', { rich_text: richText('What is new') }),
    block('paragraph', { rich_text: richText('Hello {{name|reader}}, spring is here.') }),
  ]);

  Object.assign(process.env, {
    DATABASE_URL: t.url,
    NOTION_TOKEN,
    NOTION_BASE_URL: notion.url,
    NOTION_MAILOUTS_DATABASE_ID: mailoutsDb.databaseId,
    CRON_SECRET,
    SNS_ALLOWED_TOPIC_ARNS: sns.topicArn,
    RATE_LIMIT_PER_SEC: '200',
    SEND_CONCURRENCY: '4',
    LOG_LEVEL: 'warn',
  });
  delete process.env.SES_ENDPOINT;
  delete process.env.EXECUTOR_SHARED_SECRET;
  delete process.env.APP_BASE_URL;
  resetConfig();
  stack = await startLocalStack({
    rootDir: ROOT,
    dataDir: tmp,
    persistent: false,
    // The one seam: SNS signing certificates come from the test key, not from AWS.
    routes: {
      '/api/ses-events': {
        POST: createSesEventsHandler(() => {
          const config = getConfig();
          const db = getDb(config);
          return {
            db,
            config,
            fetchCertificate: sns.fetchStub,
            refreshNotionCounts: notionCountsRefresher(config, db),
            notionRefreshIntervalSeconds: 0,
            waitUntil: (p) => waitUntil(p),
          };
        }),
      },
    },
  });
});

afterAll(async () => {
  await stack?.stop();
  await notion.close();
  await t.drop();
  fs.rmSync(tmp, { recursive: true, force: true });
  process.env = savedEnv;
  resetConfig();
});

test('import → webhook → emails → bounce and complaint → unsubscribe → second webhook refused → report matches the ledger', async () => {
  // 1. Import a GetResponse export with the CLI: one bad row and one duplicate are reported and skipped.
  const csv = path.join(tmp, 'export.csv');
  const rows = ['email;name;campaign;created_on'];
  for (let i = 1; i <= SUBSCRIBERS; i++) rows.push(`reader${i}@example.com;Reader ${i};newsletter;2024-01-${String((i % 28) + 1).padStart(2, '0')}`);
  rows.push('not-an-address;Broken;newsletter;2024-03-01');
  rows.push('Reader1@Example.com;Reader One again;newsletter;2024-03-02');
  fs.writeFileSync(csv, rows.join('\r\n') + '\r\n');
  const imported = await exec(process.execPath, ['--import', 'tsx', '--no-warnings', 'scripts/import.ts', csv, '--json'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, DATABASE_URL: t.url, LOG_LEVEL: 'warn' },
  });
  const summary = JSON.parse(imported.stdout.trim().split('\n').at(-1)!);
  expect(summary).toMatchObject({ read: SUBSCRIBERS + 2, valid: SUBSCRIBERS, inserted: SUBSCRIBERS, rejected: 1, duplicates: 1 });

  // 2. The Notion automation fires: answered before the page is read; the claim and the sending go on after the answer.
  const started = await webhook();
  expect(started.status).toBe(202);
  expect(await started.json()).toMatchObject({ outcome: 'accepted', mode: 'live', mailout_id: PAGE });
  await stack.api.idle();
  expect((await t.pool.query('select status, recipients from mailouts where id = $1', [PAGE])).rows).toEqual([{ status: 'sent', recipients: SUBSCRIBERS }]);

  // 3. Every subscriber has exactly one email, with a link of their own and the one-click headers.
  const emails = await inbox();
  expect(emails).toHaveLength(SUBSCRIBERS);
  const to = emails.map((e) => e.destination.to[0]!.replace(/^.*<|>$/g, '').toLowerCase());
  expect(new Set(to).size).toBe(SUBSCRIBERS);
  expect(to.sort()).toEqual(Array.from({ length: SUBSCRIBERS }, (_, i) => `reader${i + 1}@example.com`).sort());
  for (const e of emails) {
    expect(e.subject).toBe('Spring issue');
    expect(e.body.html).toContain('What is new');
    expect(header(e, 'List-Unsubscribe')).toMatch(new RegExp(`^<${stack.apiUrl}/api/unsubscribe\\?token=[\\w.-]+>$`));
    expect(header(e, 'List-Unsubscribe-Post')).toBe('List-Unsubscribe=One-Click');
  }
  const byAddress = new Map(emails.map((e) => [e.destination.to[0]!.replace(/^.*<|>$/g, '').toLowerCase(), e]));
  expect(byAddress.get('reader7@example.com')!.body.text).toContain('Hello Reader 7');

  const { rows: ledger1 } = await t.pool.query('select email, status, ses_message_id from deliveries where mailout_id = $1', [PAGE]);
  expect(ledger1.every((r) => r.status === 'sent')).toBe(true);
  // The ledger holds the message ids SES answered with.
  expect(new Set(ledger1.map((r) => r.ses_message_id))).toEqual(new Set(emails.map((e) => e.messageId)));
  let page = notion.pages.get(PAGE)!.properties;
  expect(page.Status.select.name).toBe('Sent');
  expect(page.Sent.number).toBe(SUBSCRIBERS);

  // 4. SES reports a hard bounce and a complaint through SNS, signed; a forged copy changes nothing.
  const bounced = 'reader3@example.com';
  const complained = 'reader5@example.com';
  const bounce = sns.notification({ Message: sesEvent('Bounce', bounced, byAddress.get(bounced)!.messageId) });
  const complaint = sns.notification({ Message: sesEvent('Complaint', complained, byAddress.get(complained)!.messageId) });
  const forged = { ...sns.notification({ Message: sesEvent('Bounce', 'reader9@example.com', byAddress.get('reader9@example.com')!.messageId) }) };
  forged.Message = forged.Message.replace('reader9', 'reader10');
  const forgedRes = await snsPost(forged);
  expect(forgedRes.status).toBeGreaterThanOrEqual(400);
  expect(forgedRes.status).toBeLessThan(500);
  expect(await subscriberStatus('reader9@example.com')).toBe('active');
  expect(await subscriberStatus('reader10@example.com')).toBe('active');

  expect((await snsPost(bounce)).status).toBe(200);
  expect((await snsPost(complaint)).status).toBe(200);
  // SNS delivers at least once: the same bounce again is applied once.
  expect((await snsPost(bounce)).status).toBe(200);
  await stack.api.idle();
  expect(await subscriberStatus(bounced)).toBe('bounced');
  // A complaint suppresses for good (a resubscribe cannot undo it).
  expect(await subscriberStatus(complained)).toBe('complained');
  page = notion.pages.get(PAGE)!.properties;
  expect(page.Bounced.number).toBe(1);
  expect(page.Complaints.number).toBe(1);

  // 5. A reader unsubscribes with one click (RFC 8058), from the link in their email.
  const leaver = 'reader8@example.com';
  const link = header(byAddress.get(leaver)!, 'List-Unsubscribe')!.slice(1, -1);
  const unsub = await fetch(link, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'List-Unsubscribe=One-Click',
  });
  expect(unsub.status).toBe(200);
  expect(await subscriberStatus(leaver)).toBe('unsubscribed');

  // 6. The automation fires again: refused (answered 200 so Notion keeps the automation on), nothing sent.
  const again = await webhook();
  expect(again.status).toBe(200);
  expect(await again.json()).toMatchObject({ outcome: 'duplicate', status: 'sent' });
  const direct = await fetch(`${stack.apiUrl}/api/send-mailout`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ mailout_id: PAGE, auth_token: stack.secret }),
  });
  expect(direct.status).toBe(409);
  await stack.api.idle();
  expect(await inbox()).toHaveLength(SUBSCRIBERS);

  // 7. The cron finds nothing to resume and refuses a caller without its secret.
  expect((await fetch(`${stack.apiUrl}/api/cron/resume`)).status).toBe(401);
  const cron = await fetch(`${stack.apiUrl}/api/cron/resume`, { headers: { authorization: `Bearer ${CRON_SECRET}` } });
  expect(cron.status).toBe(200);
  expect(await cron.json()).toEqual({ resumed: [] });

  // 8. The report link on the Notion page gives the CSV, and it matches the ledger.
  const reportLink = notion.pages.get(PAGE)!.properties.Report.url as string;
  expect(reportLink.startsWith(`${stack.apiUrl}/api/report?`)).toBe(true);
  const tampered = reportLink.replace(/sig=[^&]+/, 'sig=AAAA');
  expect((await fetch(tampered)).status).toBe(401);
  const report = await fetch(reportLink);
  expect(report.status).toBe(200);
  expect(report.headers.get('content-type')).toMatch(/^text\/csv/);
  const reported = parseCsv(await report.text());
  const { rows: ledger } = await t.pool.query('select email, status, ses_message_id, attempts from deliveries where mailout_id = $1', [PAGE]);
  expect(reported).toHaveLength(ledger.length);
  const reportedBy = new Map(reported.map((r) => [r.email, r]));
  for (const row of ledger) {
    expect(reportedBy.get(row.email)).toMatchObject({ status: row.status, ses_message_id: row.ses_message_id, attempts: String(row.attempts) });
  }
  expect(reportedBy.get(bounced)!.feedback).toBe('hard_bounce');
  expect(reportedBy.get(complained)!.feedback).toBe('complaint');
  expect(reportedBy.get('reader9@example.com')!.feedback).toBe('');
}, 120_000);
