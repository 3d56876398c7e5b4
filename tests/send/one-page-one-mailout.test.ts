import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resetConfig } from '../../lib/config';
import { freePort } from '../../scripts/db/embedded';
import { startSesEmulator } from '../../scripts/local/stack';
import { mailoutIdFromName } from '../../lib/mailout-id';
import { startApiServer, type ApiServer } from '../../scripts/local/api-server';
import { createTestDatabase, seedSubscribers, type TestDatabase } from '../helpers/db';
import { closeApiBed } from '../../scripts/fakes/api-bed';
import { block, checkboxProperty, makePage, numberPropertyValue, richText, selectProperty, startFakeNotion, titleProperty, type FakeNotion } from '../../scripts/fakes/notion-page';

/**
 * One Notion page is one mailout, whatever spelling of it arrives: through the real HTTP
 * handler (the api/ folder served as Vercel serves it), a real Postgres, the fake Notion API
 * and the aws-ses-v2-local SES emulator; the resume through the real `npm run send` CLI.
 */
const ROOT = path.resolve(__dirname, '../..');
const SECRET = 'one-page-test-secret-0123456789ab';
const CRON_SECRET = 'one-page-cron-secret-0123456789';
const PAGE = '5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b';
const BARE = PAGE.replace(/-/g, '');
const SUBSCRIBERS = 60;
let t: TestDatabase;
let notion: FakeNotion;
let ses: Awaited<ReturnType<typeof startSesEmulator>>;
let api: ApiServer;
const saved = { ...process.env };

async function inbox(): Promise<{ destination: { to: string[] } }[]> {
  const res = await fetch(`${ses.url}/store`);
  return ((await res.json()) as { emails: never[] }).emails;
}

function post(body: unknown): Promise<Response> {
  return fetch(`${api.url}/api/send-mailout`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${SECRET}` },
    body: JSON.stringify(body),
  });
}

/** The body a Notion "Send webhook" automation action posts: the page object in `data`. */
function webhook(id: string, n: number) {
  return {
    source: { type: 'automation', automation_id: 'auto-1', action_id: 'act-1', event_id: `ev-${n}`, attempt: 1 },
    data: { object: 'page', id, properties: {}, url: `https://www.notion.so/Title-${BARE}` },
  };
}

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(path.join(ROOT, 'node_modules/.bin/tsx'), ['scripts/send.ts', ...args], { cwd: ROOT, env: process.env, timeout: 120_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

beforeAll(async () => {
  t = await createTestDatabase();
  notion = await startFakeNotion({ token: 'secret_notion_test' });
  // Only pages of the Mailouts database are sent (lib/notion/membership).
  const mailoutsDb = notion.addDatabase({ title: 'Mailouts' });
  ses = await startSesEmulator(await freePort());
  const port = await freePort();
  Object.assign(process.env, {
    EXECUTOR_SHARED_SECRET: SECRET,
    CRON_SECRET,
    APP_BASE_URL: `http://127.0.0.1:${port}`,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local-secret',
    SES_ENDPOINT: ses.url,
    ...ses.env, // the emulator's ready sender (scripts/local/ready-sender.ts)
    SES_FROM_EMAIL: 'news@example.com',
    FOOTER_ADDRESS: 'Example Publishing, 1 Main St',
    DATABASE_URL: t.url,
    NOTION_TOKEN: 'secret_notion_test',
    NOTION_BASE_URL: notion.url,
    NOTION_MAILOUTS_DATABASE_ID: mailoutsDb.databaseId,
    RATE_LIMIT_PER_SEC: '500',
    SEND_CONCURRENCY: '4',
    LOG_LEVEL: 'warn',
  });
  resetConfig();
  api = await startApiServer({ rootDir: ROOT, port });
  notion.addPage(
    makePage({
      id: PAGE,
      dataSourceId: mailoutsDb.dataSourceId,
      properties: {
        Name: titleProperty('Один выпуск'),
        Test: checkboxProperty(false),
        Status: selectProperty('Ready'),
        Sent: numberPropertyValue(null),
        Recipients: numberPropertyValue(null),
      },
    }),
  );
  notion.setChildren(PAGE, [block('paragraph', { rich_text: richText('Привет, {{name}}!') })]);
  await seedSubscribers(t.pool, SUBSCRIBERS);
});

afterAll(() => closeApiBed({ api, ses, notion, t }, saved));

test('concurrent requests for one page in every spelling: one claim, one email per recipient; a resume by URL of the sent mailout sends nothing and says so', async () => {
  const other = '0123456789abcdef0123456789abcdef';
  const spellings: unknown[] = [
    webhook(PAGE, 1),
    webhook(BARE, 2),
    webhook(PAGE.toUpperCase(), 3),
    { mailout_id: PAGE },
    { mailout_id: BARE },
    { mailout_id: PAGE.toUpperCase() },
    { mailout_id: `https://www.notion.so/acme/Один-выпуск-${BARE}` },
    { mailout_id: `https://acme.notion.site/Issue-${BARE.toUpperCase()}?pvs=4#${other}` },
    { mailout_id: `https://www.notion.so/acme/${other}?v=${other}&p=${BARE}&pm=s` },
  ];
  const answers = await Promise.all(spellings.map((b) => post(b)));
  const statuses = answers.map((a) => a.status);
  const bodies = await Promise.all(answers.map((a) => a.json() as Promise<Record<string, unknown>>));
  // The webhooks (the first three) answer before the page is read (lib/send/webhook.ts): accepted,
  // or 200 "duplicate" once a claim is seen; the direct calls claim before answering, or get 409.
  statuses.forEach((s, i) => {
    expect(bodies[i]).toMatchObject({ mailout_id: PAGE });
    if (i < 3) expect([s, bodies[i]!.outcome]).toEqual(s === 202 ? [202, 'accepted'] : [200, 'duplicate']);
    else expect([s, bodies[i]!.outcome]).toEqual(s === 202 ? [202, 'started'] : [409, 'duplicate']);
  });
  const started = bodies.filter((b) => b.outcome === 'started');
  expect(started.length).toBeLessThanOrEqual(1);
  started.forEach((b) => expect(b).toMatchObject({ recipients: SUBSCRIBERS }));

  await api.idle();
  expect((await t.pool.query('select id from mailouts')).rows).toEqual([{ id: PAGE }]);
  // One claim: the page was set to Sending once (the others were refused, answered or after the answer).
  const sending = notion.pageUpdates.filter((u) => u.pageId === PAGE && (u.body as any).properties?.Status?.select?.name === 'Sending');
  expect(sending).toHaveLength(1);
  const to = (await inbox()).map((e) => e.destination.to[0]);
  expect(to).toHaveLength(SUBSCRIBERS);
  expect(new Set(to).size).toBe(SUBSCRIBERS);
  expect((await t.pool.query('select status from mailouts where id = $1', [PAGE])).rows[0].status).toBe('sent');

  // The README's resume path, by the page's link: refused as already sent, nothing sent.
  const resume = await cli([`https://www.notion.so/acme/Один-выпуск-${BARE}?pvs=4`]);
  expect(resume.code).toBe(1);
  expect(resume.stderr).toContain(`mailout ${PAGE}`);
  expect(JSON.parse(resume.stdout)).toMatchObject({ outcome: 'duplicate', status: 'sent', mailout_id: PAGE, message: expect.stringMatching(/already sent/) });
  expect(await inbox()).toHaveLength(SUBSCRIBERS);
  expect((await t.pool.query('select count(*)::int n from mailouts')).rows[0].n).toBe(1);

  // Something that is not a page is a usage error that lists the accepted forms, and claims nothing.
  const bad = await cli(['Ноябрьский выпуск']);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/Accepted: a Notion page id/);
  const badHttp = await post({ mailout_id: 'demo-mailout' });
  expect(badHttp.status).toBe(400);
  expect((await badHttp.json()).message).toMatch(/Accepted: a Notion page id .*notion\.site/);
  expect((await t.pool.query('select count(*)::int n from mailouts')).rows[0].n).toBe(1);
}, 180_000);

test('nothing is claimed without a letter: a continuation for a never-claimed id creates nothing; a letterless claim left from before is closed by the cron, not renewed', async () => {
  const never = '6f7a8b9c-0d1e-4f2a-8b3c-4d5e6f7a8b9c';
  const res = await post({ mailout_id: never.replace(/-/g, '').toUpperCase(), continuation: true });
  expect(res.status).toBe(422);
  expect((await res.json()).message).toMatch(/no stored letter/);
  expect((await t.pool.query('select count(*)::int n from mailouts where id = $1', [never])).rows[0].n).toBe(0);
  expect((await t.pool.query('select count(*)::int n from deliveries where mailout_id = $1', [never])).rows[0].n).toBe(0);

  // The state the old code left: `sending`, lease expired, queued deliveries, no letter.
  const stuck = '7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d';
  await t.pool.query(`insert into mailouts (id, status, lease_token, lease_until, started_at) values ($1, 'sending', gen_random_uuid(), now() - interval '1 minute', now())`, [stuck]);
  await t.pool.query(`insert into deliveries (mailout_id, subscriber_id, email) select $1, id, email from subscribers`, [stuck]);
  const before = (await inbox()).length;

  const cron = () => fetch(`${api.url}/api/cron/resume`, { headers: { authorization: `Bearer ${CRON_SECRET}` } });
  expect((await cron()).status).toBe(200);
  await api.idle();
  const { rows } = await t.pool.query('select status, last_error, lease_until from mailouts where id = $1', [stuck]);
  expect(rows[0]).toMatchObject({ status: 'failed', lease_until: null, last_error: expect.stringMatching(/No letter is stored/) });
  expect((await t.pool.query('select * from mailouts_to_resume(10)')).rows).toEqual([]);
  expect(await cron().then((r) => r.json())).toEqual({ resumed: [] });
  expect(await inbox()).toHaveLength(before);
}, 120_000);

test('a Markdown letter is one mailout wherever the file lives: the CLI prints its id, from the front matter or the file name', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'letters-'));
  try {
    const body = '# Issue 7\n\nHello {{name|friend}}.\n';
    for (const sub of ['a', 'b']) {
      fs.mkdirSync(path.join(dir, sub));
      fs.writeFileSync(path.join(dir, sub, 'issue-7.md'), body);
    }
    fs.writeFileSync(path.join(dir, 'renamed.md'), `---\nid: issue-7\n---\n${body}`);
    const expected = mailoutIdFromName('issue-7');
    for (const file of [path.join(dir, 'a', 'issue-7.md'), path.join(dir, 'b', 'issue-7.md'), path.join(dir, 'renamed.md')]) {
      const run = await cli([file, '--dry-run']);
      expect(run.code).toBe(0);
      expect(run.stderr).toContain(`mailout ${expected}`);
      expect(JSON.parse(run.stdout)).toMatchObject({ outcome: 'dry_run', mailout_id: expected, subject: 'Issue 7' });
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);
