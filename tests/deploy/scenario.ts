import fs from 'node:fs';
import path from 'node:path';
import { reportUrl } from '../../lib/report';
import { viewUrl } from '../../lib/view';
import { unsubscribeToken } from '../../lib/unsubscribe/token';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { startSesEmulator } from '../../scripts/local/stack';
import { freePort } from '../../scripts/db/embedded';
import { createSnsSigner, type SnsSigner } from '../../scripts/fakes/sns';
import { block, checkboxProperty, makePage, numberPropertyValue, richText, selectProperty, startFakeNotion, titleProperty, type FakeNotion } from '../../scripts/fakes/notion-page';
import { scheduleResume } from '../../scripts/setup/cron';
import { installSupabaseExtensionStubs } from '../fakes/supabase-extensions';
import { ROOT } from './built-functions';

/**
 * One user's session with a deployment, run the same way against the local server and
 * against the built functions: each call is recorded as status, content type and body with
 * the deployment's own URL and the values each run makes anew (SES message ids, times) masked,
 * so two runs' transcripts must be equal.
 */

export const SECRET = 'deploy-test-executor-secret-0123456789';
export const CRON_SECRET = 'deploy-test-cron-secret-0123456789';
const UNSUBSCRIBE_SECRET = 'deploy-test-unsubscribe-secret-0123456789';
export const REPORT_SECRET = 'deploy-test-report-secret-0123456789';
export const PAGE = '3a1f0c2e-5b6d-4e7f-8a9b-0c1d2e3f4a5b';
const NOTION_TOKEN = 'secret_notion_deploy_test';
const READERS = [
  { id: '0b7a4f0e-1c2d-4e3f-9a4b-5c6d7e8f9a01', email: 'reader1@example.net', name: 'Анна' },
  { id: '0b7a4f0e-1c2d-4e3f-9a4b-5c6d7e8f9a02', email: 'reader2@example.net', name: 'Борис' },
  { id: '0b7a4f0e-1c2d-4e3f-9a4b-5c6d7e8f9a03', email: 'reader3@example.net', name: 'Вера' },
];

export interface World {
  t: TestDatabase;
  notion: FakeNotion;
  ses: { url: string; close(): Promise<void> };
  sns: SnsSigner;
  /** The variables a deployment is given (APP_BASE_URL is its origin). */
  env(origin: string): NodeJS.ProcessEnv;
  close(): Promise<void>;
}

/** A fresh database, Notion and SES emulator for one run. */
export async function makeWorld(sns: SnsSigner = createSnsSigner()): Promise<World> {
  const t = await createTestDatabase();
  const notion = await startFakeNotion({ token: NOTION_TOKEN });
  // Only pages of the Mailouts database are sent (lib/notion/membership).
  const mailoutsDb = notion.addDatabase({ title: 'Mailouts' });
  const ses = await startSesEmulator(await freePort());
  // The emulator keeps one store per process, shared by every instance: start empty.
  await fetch(`${ses.url}/clear-store`, { method: 'POST' });
  notion.addPage(
    makePage({
      id: PAGE,
      dataSourceId: mailoutsDb.dataSourceId,
      properties: {
        Name: titleProperty('Новости недели'),
        Test: checkboxProperty(false),
        Status: selectProperty('Ready'),
        Sent: numberPropertyValue(null),
        Recipients: numberPropertyValue(null),
      },
    }),
  );
  notion.setChildren(PAGE, [block('paragraph', { rich_text: richText('Привет, {{name}}! Главное за неделю.') })]);
  for (const r of READERS) {
    await t.pool.query(`insert into subscribers (id, email, name, status, source) values ($1, $2, $3, 'active', 'deploy-test')`, [r.id, r.email, r.name]);
  }
  return {
    t,
    notion,
    ses,
    sns,
    env: (origin) => {
      // The emulator's ready sender (scripts/local/ready-sender.ts) answers for this origin and topic.
      ses.subscribe(origin, sns.topicArn);
      return {
        PATH: process.env.PATH,
        EXECUTOR_SHARED_SECRET: SECRET,
        CRON_SECRET,
        UNSUBSCRIBE_SECRET,
        REPORT_SECRET,
        APP_BASE_URL: origin,
        DATABASE_URL: t.url,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local-secret',
        SES_ENDPOINT: ses.url,
        ...ses.env,
        SES_FROM_EMAIL: 'news@example.com',
        SES_FROM_NAME: 'Deploy Test',
        FOOTER_ADDRESS: 'Example Publishing, 1 Main Street, Springfield',
        LIST_NAME: 'Deploy test list',
        NOTION_TOKEN,
        NOTION_BASE_URL: notion.url,
        NOTION_MAILOUTS_DATABASE_ID: mailoutsDb.databaseId,
        SNS_ALLOWED_TOPIC_ARNS: sns.topicArn,
        TEST_EMAILS: 'editor@example.com',
        RATE_LIMIT_PER_SEC: '100',
        LOG_LEVEL: 'warn',
      };
    },
    close: async () => {
      await ses.close();
      await notion.close();
      await t.drop();
    },
  };
}

export interface Step {
  step: string;
  status: number;
  type: string | null;
  /** The headers a browser or mail client acts on (the content type is `type`). */
  headers?: Record<string, string>;
  body: unknown;
}

const COMPARED_HEADERS = ['cache-control', 'content-disposition', 'content-security-policy', 'x-robots-tag', 'x-frame-options', 'referrer-policy', 'allow', 'set-cookie', 'location'];

export interface Target {
  url: string;
  idle(): Promise<void>;
}

function mask(text: string, origin: string, volatile: string[]): string {
  let out = text.split(origin).join('<origin>');
  for (const v of volatile) out = out.split(v).join('<id>');
  return out
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)?/g, '<time>')
    .replace(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?([+-]\d\d)?/g, '<time>');
}

interface StoredEmail {
  destination: { to: string[] };
  subject: string;
  messageId?: string;
}

async function inbox(world: World): Promise<StoredEmail[]> {
  return ((await (await fetch(`${world.ses.url}/store`)).json()) as { emails: StoredEmail[] }).emails;
}

function sesBounce(email: string, messageId: string): string {
  const fixture = JSON.parse(fs.readFileSync(path.join(ROOT, 'tests/feedback/fixtures/event-bounce.json'), 'utf8'));
  fixture.mail.messageId = messageId;
  fixture.mail.commonHeaders.messageId = messageId;
  fixture.mail.destination = [email];
  fixture.mail.tags = { ...(fixture.mail.tags ?? {}), mailout_id: [PAGE] };
  fixture.bounce.bouncedRecipients[0].emailAddress = email;
  fixture.bounce.feedbackId = `bounce-${messageId}`;
  return JSON.stringify(fixture);
}

/**
 * The session: health; send-mailout refused without the secret, then a real send to the SES
 * emulator; the unsubscribe page and its one-click POST; a signed SNS bounce; the signed
 * report; the cron refused without its secret, then resuming a mailout whose lease expired
 * (nobody gets the letter twice), and the same through the request the pg_cron job makes.
 * `called` collects every route the session used.
 */
export async function runSession(target: Target, world: World, called: Set<string>): Promise<Step[]> {
  const steps: Step[] = [];
  const volatile: string[] = [];
  const call = async (step: string, route: string, init: RequestInit & { query?: string } = {}): Promise<Step> => {
    called.add(route);
    const res = await fetch(`${target.url}${route}${init.query ?? ''}`, { ...init, redirect: 'manual' });
    const type = res.headers.get('content-type');
    const text = mask(await res.text(), target.url, volatile);
    let body: unknown = text;
    if (type?.includes('json')) {
      const parsed = JSON.parse(text) as Record<string, unknown>;
      delete parsed.latency_ms;
      body = parsed;
    }
    const headers = Object.fromEntries(COMPARED_HEADERS.flatMap((h) => (res.headers.has(h) ? [[h, res.headers.get(h)!]] : [])));
    const s = { step, status: res.status, type, headers, body };
    steps.push(s);
    return s;
  };
  const db = async (sql: string, params: unknown[] = []) => (await world.t.pool.query(sql, params)).rows;
  const recordState = async (step: string): Promise<void> => {
    const mailout = (await db('select status from mailouts where id = $1', [PAGE]))[0]?.status;
    steps.push({ step, status: 0, type: null, body: { mailout, inbox: (await inbox(world)).length } });
  };
  const bearer = (s: string) => ({ authorization: `Bearer ${s}` });
  const jsonPost = (body: unknown, headers: Record<string, string> = {}) => ({
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

  await call('health', '/api/health');

  await call('send without secret', '/api/send-mailout', jsonPost({ mailout_id: PAGE }));
  await call('send', '/api/send-mailout', jsonPost({ mailout_id: PAGE }, bearer(SECRET)));
  await target.idle();
  const sent = await inbox(world);
  volatile.push(...sent.map((e) => e.messageId).filter((m): m is string => Boolean(m)));
  const ledger = await db(`select s.email, d.status, d.ses_message_id from deliveries d join subscribers s on s.id = d.subscriber_id where d.mailout_id = $1 order by s.email`, [PAGE]);
  volatile.push(...ledger.map((r) => r.ses_message_id as string).filter(Boolean));
  steps.push({
    step: 'after send',
    status: 0,
    type: null,
    body: {
      mailout: (await db('select status from mailouts where id = $1', [PAGE]))[0]?.status,
      ledger: ledger.map((r) => `${r.email} ${r.status}`),
      inbox: sent.map((e) => `${[...e.destination.to].sort().join(',')} ${e.subject}`).sort(),
    },
  });

  const token = unsubscribeToken(UNSUBSCRIBE_SECRET, READERS[0]!.id);
  await call('unsubscribe page', '/api/unsubscribe', { query: `?token=${encodeURIComponent(token)}` });
  await call('one-click unsubscribe', '/api/unsubscribe', {
    query: `?token=${encodeURIComponent(token)}`,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'List-Unsubscribe=One-Click',
  });

  const bounced = READERS[1]!;
  const messageId = ledger.find((r) => r.email === bounced.email)?.ses_message_id as string;
  const envelope = world.sns.notification({ Message: sesBounce(bounced.email, messageId) });
  await call('signed SNS bounce', '/api/ses-events', {
    method: 'POST',
    headers: { 'content-type': 'text/plain; charset=UTF-8', 'x-amz-sns-message-type': 'Notification', 'x-amz-sns-topic-arn': world.sns.topicArn },
    body: JSON.stringify(envelope),
  });
  await target.idle();
  steps.push({ step: 'subscribers', status: 0, type: null, body: (await db('select email, status from subscribers order by email')).map((r) => `${r.email} ${r.status}`) });

  await call('report', '/api/report', { query: new URL(reportUrl({ appBaseUrl: target.url, reportSecret: REPORT_SECRET }, PAGE)).search });
  await call('view in the browser', '/api/view', { query: new URL(viewUrl({ appBaseUrl: target.url, unsubscribeSecret: UNSUBSCRIBE_SECRET }, PAGE)).search });

  await call('cron without secret', '/api/cron/resume');
  await db(`update mailouts set status = 'sending', lease_until = now() - interval '1 minute' where id = $1`, [PAGE]);
  await call('cron resumes an expired lease', '/api/cron/resume', { headers: bearer(CRON_SECRET) });
  await target.idle();
  await recordState('after cron');

  // The Hobby safety net: the pg_cron job (npm run setup:cron) finds the expired lease and
  // makes its pg_net request; that request, replayed here, resumes the mailout.
  await installSupabaseExtensionStubs(world.t.pool);
  await scheduleResume(world.t.url, { appBaseUrl: target.url, cronSecret: CRON_SECRET });
  await db(`update mailouts set status = 'sending', lease_until = now() - interval '1 minute' where id = $1`, [PAGE]);
  await world.t.pool.query((await db(`select command from cron.job where jobname = 'mailout-resume'`))[0]!.command as string);
  const [job] = await db('select url, headers from net.recorded_requests');
  const jobUrl = new URL(job!.url as string);
  await call("the pg_cron job's request", jobUrl.pathname, { query: jobUrl.search, headers: job!.headers as Record<string, string> });
  await target.idle();
  await recordState('after the pg_cron job');

  await call('a method send-mailout does not export', '/api/send-mailout');
  return steps;
}
