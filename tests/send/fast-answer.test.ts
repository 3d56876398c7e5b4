import { resetConfig } from '../../lib/config';
import { startSesEmulator } from '../../scripts/local/stack';
import { ERROR_PROPERTIES, MAILOUT_PROPERTIES, STATUS_NAMES } from '../../lib/notion/schema';
import { startApiServer, type ApiServer } from '../../scripts/local/api-server';
import { createTestDatabase, seedSubscribers, type TestDatabase } from '../helpers/db';
import { apiBedEnv, closeApiBed } from '../../scripts/fakes/api-bed';
import { block, dataSourceProperties, makePage, nestBlocks, newId, richText, rowProperties, startFakeNotion, type FakeNotion } from '../../scripts/fakes/notion-page';

/**
 * A Notion automation's webhook is answered once the request is authenticated, the id parsed
 * and the claim looked up (issue 25, item 4): Notion pauses an automation whose "Send webhook"
 * action fails or is slow. Here Notion answers each request in 300 ms, and the fake holds
 * every request past those an answer may make, so an answer that waited for more would never
 * come: the count is asserted, not the clock (the time is `npm run bench -- webhook`).
 */
const SECRET = 'fast-answer-secret-0123456789abcdef';
const SUBSCRIBERS = 20;
let t: TestDatabase;
let notion: FakeNotion;
let ses: Awaited<ReturnType<typeof startSesEmulator>>;
let api: ApiServer;
let mailouts: { databaseId: string; dataSourceId: string };
let errorsDb: { databaseId: string; dataSourceId: string };
const schema = dataSourceProperties(MAILOUT_PROPERTIES, 'ru');
const saved = { ...process.env };

async function inbox(subject: string): Promise<string[]> {
  const res = await fetch(`${ses.url}/store`);
  const emails = ((await res.json()) as { emails: { subject: string; destination: { to: string[] } }[] }).emails;
  return emails.filter((e) => e.subject === subject).map((e) => e.destination.to[0]!);
}

function webhook(pageId: string): Promise<Response> {
  return fetch(`${api.url}/api/send-mailout`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${SECRET}` },
    body: JSON.stringify({
      source: { type: 'automation', automation_id: 'auto-1', action_id: 'act-1', event_id: newId(), attempt: 1 },
      data: { object: 'page', id: pageId, properties: {} },
    }),
  });
}

/** A row of the Russian Mailouts database, 60 levels deep unless told otherwise. */
function mailoutPage(title: string, options: { test?: boolean; depth?: number; dataSourceId?: string } = {}): string {
  const page = makePage({
    dataSourceId: options.dataSourceId ?? mailouts.dataSourceId,
    properties: rowProperties(schema, { Название: title, Тест: options.test ?? false, Статус: STATUS_NAMES.ready.ru }),
  });
  notion.addPage(page);
  nestBlocks(notion, page.id, options.depth ?? 60);
  return page.id;
}

function property(pageId: string, name: string): any {
  return notion.pages.get(pageId)!.properties[name];
}

const status = (pageId: string) => property(pageId, 'Статус')?.select?.name;
const lastError = (pageId: string) => (property(pageId, 'Последняя ошибка')?.rich_text ?? []).map((r: any) => r.plain_text).join('');

beforeAll(async () => {
  t = await createTestDatabase();
  notion = await startFakeNotion({ token: 'secret_notion_test', latencyMs: 300 });
  mailouts = notion.addDatabase({ title: 'Письма', properties: schema });
  errorsDb = notion.addDatabase({ title: 'Ошибки', properties: dataSourceProperties(ERROR_PROPERTIES, 'ru') });
  ses = await startSesEmulator(0);
  api = await startApiServer({ rootDir: `${__dirname}/../..`, port: 0 });
  Object.assign(
    process.env,
    apiBedEnv({ t, notion, ses, api }, SECRET, mailouts.databaseId, { NOTION_ERRORS_DATABASE_ID: errorsDb.databaseId, LOG_LEVEL: 'error' }),
  );
  resetConfig();
  await seedSubscribers(t.pool, SUBSCRIBERS);
});

afterAll(() => closeApiBed({ api, ses, notion, t }, saved));

beforeEach(() => notion.clearRequests());

test('a 60-level page: the webhook answers after one Notion request, before any block is read, and the letter goes out once', async () => {
  const page = mailoutPage('Глубокий выпуск');
  const gate = notion.hold((_request, index) => index >= 1);
  const res = await webhook(page);
  expect(res.status).toBe(202);
  expect(await res.json()).toMatchObject({ outcome: 'accepted', mode: 'live', mailout_id: page });
  // The answer needed pages.retrieve (membership and the Test checkbox) and nothing else.
  expect(notion.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`GET /v1/pages/${page}`]);
  expect((await t.pool.query('select count(*)::int n from mailouts where id = $1', [page])).rows[0].n).toBe(0);

  gate.release();
  await api.idle();
  expect(notion.calls(/\/children$/, 'GET').length).toBeGreaterThanOrEqual(60);
  const to = await inbox('Глубокий выпуск');
  expect(to).toHaveLength(SUBSCRIBERS);
  expect(new Set(to).size).toBe(SUBSCRIBERS);
  expect((await t.pool.query('select status from mailouts where id = $1', [page])).rows[0].status).toBe('sent');
  expect(status(page)).toBe(STATUS_NAMES.sent.ru);
}, 120_000);

test('a repeat press of a sent page answers "duplicate" with no Notion request at all; the page is told afterwards', async () => {
  const page = mailoutPage('Повторное нажатие', { depth: 3 });
  expect((await webhook(page)).status).toBe(202);
  await api.idle();
  notion.clearRequests();

  const gate = notion.hold(() => true);
  const again = await webhook(page);
  expect(again.status).toBe(200);
  expect(await again.json()).toMatchObject({ outcome: 'duplicate', status: 'sent', mailout_id: page });
  expect(notion.requests).toEqual([]);
  gate.release();
  await api.idle();
  expect(notion.calls(/\/children$/, 'GET')).toEqual([]);
  expect(lastError(page)).toMatch(/Duplicate send request refused: This mailout was already sent/);
  expect(await inbox('Повторное нажатие')).toHaveLength(SUBSCRIBERS);
}, 120_000);

test('a second press while the first is still reading the page is accepted too, and the atomic claim keeps it to one send: the other run reports a duplicate', async () => {
  const page = mailoutPage('Два нажатия', { depth: 10 });
  const gate = notion.hold((r) => r.method === 'GET' && r.path.endsWith('/children'));
  const answers = [await webhook(page), await webhook(page)];
  expect(answers.map((a) => a.status)).toEqual([202, 202]);
  gate.release();
  await api.idle();

  const to = await inbox('Два нажатия');
  expect(to).toHaveLength(SUBSCRIBERS);
  expect(new Set(to).size).toBe(SUBSCRIBERS);
  expect((await t.pool.query('select count(*)::int n from deliveries where mailout_id = $1', [page])).rows[0].n).toBe(SUBSCRIBERS);
  const written = notion.pageUpdates.filter((u) => u.pageId === page).map((u) => JSON.stringify(u.body));
  expect(written.some((w) => w.includes('Duplicate send request refused'))).toBe(true);
  expect(status(page)).toBe(STATUS_NAMES.sent.ru);
}, 120_000);

test('a failure after the answer is on the page (Failed, and why) and in the Errors database, and nothing is claimed', async () => {
  const page = mailoutPage('', { depth: 2 });
  const res = await webhook(page);
  expect(res.status).toBe(202);
  await api.idle();

  expect(status(page)).toBe(STATUS_NAMES.failed.ru);
  expect(lastError(page)).toMatch(/no subject/);
  const rows = notion.createdPages.filter((p) => p.parent.data_source_id === errorsDb.dataSourceId);
  const row = rows.find((p) => p.properties['Рассылка']?.rich_text?.[0]?.plain_text === page);
  expect(row?.properties['Сообщение'].rich_text[0].plain_text).toMatch(/no subject/);
  expect(row?.properties['Код'].rich_text[0].plain_text).toBe('unprocessable');
  expect((await t.pool.query('select count(*)::int n from mailouts where id = $1', [page])).rows[0].n).toBe(0);
}, 120_000);

test('what must refuse still refuses in the answer: a page outside the Mailouts database is a 403 naming NOTION_MAILOUTS_DATABASE_ID, its body unread', async () => {
  const elsewhere = notion.addDatabase({ title: 'Черновики', properties: schema });
  const page = mailoutPage('Чужая страница', { dataSourceId: elsewhere.dataSourceId });
  const res = await webhook(page);
  expect(res.status).toBe(403);
  expect((await res.json()).message).toMatch(/NOTION_MAILOUTS_DATABASE_ID/);
  await api.idle();
  expect(notion.calls(/\/children$/, 'GET')).toEqual([]);
  expect(notion.pageUpdates.filter((u) => u.pageId === page)).toEqual([]);
  expect((await t.pool.query('select count(*)::int n from mailouts where id = $1', [page])).rows[0].n).toBe(0);
}, 120_000);

test('a ticked Test checkbox is a test send after the answer too: TEST_EMAILS only, nothing claimed', async () => {
  const page = mailoutPage('Пробный выпуск', { test: true, depth: 2 });
  notion.setChildren(page, [block('paragraph', { rich_text: richText('Проверка') })]);
  const res = await webhook(page);
  expect(res.status).toBe(202);
  expect(await res.json()).toMatchObject({ outcome: 'accepted', mode: 'test' });
  await api.idle();
  expect(await inbox('[TEST] Пробный выпуск')).toEqual(['editor@example.com']);
  expect((await t.pool.query('select count(*)::int n from mailouts where id = $1', [page])).rows[0].n).toBe(0);
  expect(lastError(page)).toMatch(/Test sent .* to editor@example.com: 1 sent/);
}, 120_000);

test('a sender that is not ready is refused in the answer (412), and the page says so: Failed, why, and an Errors row', async () => {
  const page = mailoutPage('Неготовый отправитель', { depth: 2 });
  process.env.SES_CONFIGURATION_SET = '';
  resetConfig();
  try {
    const res = await webhook(page);
    expect(res.status).toBe(412);
    expect((await res.json()).message).toMatch(/sender is not ready/);
  } finally {
    Object.assign(process.env, { SES_CONFIGURATION_SET: ses.env.SES_CONFIGURATION_SET });
    resetConfig();
  }
  await api.idle();
  expect(notion.calls(/\/children$/, 'GET')).toEqual([]);
  expect(status(page)).toBe(STATUS_NAMES.failed.ru);
  expect(lastError(page)).toMatch(/sender is not ready/);
  expect(notion.createdPages.some((p) => p.properties['Рассылка']?.rich_text?.[0]?.plain_text === page)).toBe(true);
  expect((await t.pool.query('select count(*)::int n from mailouts where id = $1', [page])).rows[0].n).toBe(0);
}, 120_000);

test('a live send without FOOTER_ADDRESS, refused after the answer, says so on the page and in the Errors database', async () => {
  const page = mailoutPage('Без адреса', { depth: 2 });
  const footer = process.env.FOOTER_ADDRESS;
  process.env.FOOTER_ADDRESS = '';
  resetConfig();
  try {
    expect((await webhook(page)).status).toBe(202);
    await api.idle();
  } finally {
    process.env.FOOTER_ADDRESS = footer;
    resetConfig();
  }
  expect(status(page)).toBe(STATUS_NAMES.failed.ru);
  expect(lastError(page)).toMatch(/FOOTER_ADDRESS is not set/);
  const row = notion.createdPages.find((p) => p.properties['Рассылка']?.rich_text?.[0]?.plain_text === page);
  expect(row?.properties['Сообщение'].rich_text[0].plain_text).toMatch(/FOOTER_ADDRESS/);
  expect(await inbox('Без адреса')).toEqual([]);
}, 120_000);
