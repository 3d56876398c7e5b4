import { resetConfig } from '../../lib/config';
import { startSesEmulator } from '../../scripts/local/stack';
import { startApiServer, type ApiServer } from '../../scripts/local/api-server';
import { block, checkboxProperty, makePage, numberPropertyValue, richText, selectProperty, startFakeNotion, titleProperty, type FakeNotion } from '../../scripts/fakes/notion-page';
import { createTestDatabase, seedSubscribers, type TestDatabase } from '../helpers/db';
import { apiBedEnv, closeApiBed } from '../../scripts/fakes/api-bed';

/**
 * POST /api/send-mailout over real HTTP: the api/ folder served as Vercel serves it, a real
 * Postgres, the fake Notion API, and the aws-ses-v2-local SES emulator.
 */
const SECRET = 'api-test-secret-0123456789abcdef';
const PAGE = '1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b';
let t: TestDatabase;
let notion: FakeNotion;
let ses: Awaited<ReturnType<typeof startSesEmulator>>;
let api: ApiServer;
const saved = { ...process.env };

async function inbox(): Promise<{ destination: { to: string[] }; subject: string; body: { html?: string; text?: string } }[]> {
  const res = await fetch(`${ses.url}/store`);
  return ((await res.json()) as { emails: never[] }).emails;
}

async function post(body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${api.url}/api/send-mailout`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

beforeAll(async () => {
  t = await createTestDatabase();
  notion = await startFakeNotion({ token: 'secret_notion_test' });
  // Only pages of the Mailouts database are sent (lib/notion/membership).
  const mailoutsDb = notion.addDatabase({ title: 'Mailouts' });
  // Port 0: the system picks free ports as the servers bind them (no chosen port can be taken first).
  ses = await startSesEmulator(0);
  api = await startApiServer({ rootDir: `${__dirname}/../..`, port: 0 });
  Object.assign(process.env, apiBedEnv({ t, notion, ses, api }, SECRET, mailoutsDb.databaseId));
  resetConfig();
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
  await seedSubscribers(t.pool, 1000);
});

afterAll(() => closeApiBed({ api, ses, notion, t }, saved));

test('bad requests get a 4xx with a reason and change nothing', async () => {
  const wrong = await post({ mailout_id: PAGE, auth_token: 'wrong-secret-0123456789' });
  expect(wrong.status).toBe(401);
  expect(await wrong.json()).toMatchObject({ error: 'unauthorized' });
  const none = await post({ mailout_id: PAGE });
  expect(none.status).toBe(401);

  const malformed = await post('{"mailout_id": ', { authorization: `Bearer ${SECRET}` });
  expect(malformed.status).toBe(400);
  expect((await malformed.json()).message).toMatch(/not valid JSON/);
  const missing = await post({ auth_token: SECRET });
  expect(missing.status).toBe(400);
  expect((await missing.json()).message).toMatch(/mailout_id is required/);

  const unknown = await post({ mailout_id: 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee', auth_token: SECRET });
  expect(unknown.status).toBe(404);
  expect((await unknown.json()).message).toMatch(/aaaaaaaa/);

  const get = await fetch(`${api.url}/api/send-mailout`);
  expect(get.status).toBe(405);
  expect((await t.pool.query('select count(*)::int n from mailouts')).rows[0].n).toBe(0);
  expect(await inbox()).toEqual([]);
});

test('with no secret configured every call is refused, whatever it carries; the secret may come in X-Executor-Secret', async () => {
  delete process.env.EXECUTOR_SHARED_SECRET;
  resetConfig();
  try {
    const res = await post({ mailout_id: PAGE, auth_token: SECRET }, { authorization: `Bearer ${SECRET}` });
    expect(res.status).toBe(500);
    const body = await res.json();
    expect(body.message).toMatch(/EXECUTOR_SHARED_SECRET/);
    expect(JSON.stringify(body)).not.toContain(SECRET);
  } finally {
    process.env.EXECUTOR_SHARED_SECRET = SECRET;
    resetConfig();
  }
  // The custom-header form of a Notion automation: a wrong value is refused before anything is read.
  const wrongHeader = await post({ source: { type: 'automation' }, data: { object: 'page', id: PAGE } }, { 'x-executor-secret': 'nope-nope-nope-nope' });
  expect(wrongHeader.status).toBe(401);
  // A right one gets past authentication (the unknown page is then a 404, with nothing claimed).
  const unknown = await post(
    { source: { type: 'automation' }, data: { object: 'page', id: 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee' } },
    { 'x-executor-secret': SECRET },
  );
  expect(unknown.status).toBe(404);
  expect((await t.pool.query('select count(*)::int n from mailouts')).rows[0].n).toBe(0);
});

// A thousand messages through the real SES emulator: tens of seconds on a busy machine.
test('10 concurrent webhooks for one mailout: one claim, the rest refused, exactly 1,000 messages', async () => {
  const webhook = {
    source: { type: 'automation', automation_id: 'auto-1', action_id: 'act-1', event_id: 'ev-1', attempt: 1 },
    data: { object: 'page', id: PAGE, properties: {} },
  };
  const answers = await Promise.all(
    Array.from({ length: 10 }, (_, i) =>
      i % 2 === 0 ? post(webhook, { authorization: `Bearer ${SECRET}` }) : post({ mailout_id: PAGE, auth_token: SECRET }),
    ),
  );
  const statuses = answers.map((a) => a.status);
  const bodies = await Promise.all(answers.map((a) => a.json() as Promise<Record<string, unknown>>));
  // Notion's calls are answered before the page is read (lib/send/webhook.ts): accepted, or 200
  // "duplicate" once a claim is seen (Notion pauses failing automations). Direct ones claim before answering, or get 409.
  statuses.forEach((s, i) => {
    if (i % 2 === 0) expect([s, bodies[i]!.outcome]).toEqual(s === 202 ? [202, 'accepted'] : [200, 'duplicate']);
    else expect([s, bodies[i]!.outcome]).toEqual(s === 202 ? [202, 'started'] : [409, 'duplicate']);
  });
  const started = bodies.filter((b) => b.outcome === 'started');
  expect(started.length).toBeLessThanOrEqual(1);
  started.forEach((b) => expect(b).toMatchObject({ recipients: 1000, mailout_id: PAGE }));

  await api.idle();
  const emails = await inbox();
  const to = emails.map((e) => e.destination.to[0]);
  expect(to).toHaveLength(1000);
  expect(new Set(to).size).toBe(1000);
  expect(emails[0]!.subject).toBe('Новости недели');
  expect((await t.pool.query(`select status from mailouts where id = $1`, [PAGE])).rows[0].status).toBe('sent');

  // One claim: the page was set to Sending once (the others were refused, answered or after the answer).
  const sending = notion.pageUpdates.filter((u) => u.pageId === PAGE && (u.body as any).properties?.Status?.select?.name === 'Sending');
  expect(sending).toHaveLength(1);
  // The outcome is on the Notion page.
  const last = notion.pageUpdates.filter((u) => u.pageId === PAGE).at(-1)!;
  expect(last.body).toMatchObject({ properties: { Status: { select: { name: 'Sent' } }, Sent: { number: 1000 } } });

  const again = await post({ mailout_id: PAGE, auth_token: SECRET });
  expect(again.status).toBe(409);
}, 180_000);
