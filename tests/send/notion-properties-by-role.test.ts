import { letterOptionsFromConfig, notionReporter } from '../../lib/app';
import { isAppError } from '../../lib/errors';
import { createNotionClient } from '../../lib/notion/client';
import { ERROR_PROPERTIES, MAILOUT_PROPERTIES, type Lang } from '../../lib/notion/schema';
import { loadLetter } from '../../lib/letter';
import { startMailout, type SendDeps } from '../../lib/send';
import { startFakeSes, type FakeSes } from '../../scripts/fakes/ses';
import { createTestDatabase, seedSubscribers, type TestDatabase } from '../helpers/db';
import { sendDeps, testConfig } from './helpers';
import { block, dataSourceProperties, makePage, newId, richText, rowProperties, startFakeNotion, type FakeNotion } from '../../scripts/fakes/notion-page';

/**
 * The executor finds a database's properties by role, not by the names a user sees: a send
 * from a Russian database, a send after renaming properties, a renamed Test checkbox that
 * still means test, and a page whose Test checkbox cannot be found, refused before anything
 * is claimed or sent. The page is read and written through the real @notionhq/client
 * against the fake Notion API, the letter through the real pipeline.
 */
let t: TestDatabase;
let ses: FakeSes;
let notion: FakeNotion;
let mailouts: { databaseId: string; dataSourceId: string };
let errors: { databaseId: string; dataSourceId: string };

beforeAll(async () => {
  t = await createTestDatabase();
  ses = await startFakeSes({ account: { SendQuota: { Max24HourSend: -1, MaxSendRate: 5000 } } });
  notion = await startFakeNotion({ token: 'secret_roles' });
});
afterAll(async () => {
  await notion.close();
  await ses.close();
  await t.drop();
});
beforeEach(async () => {
  ses.reset();
  notion.pageUpdates.length = 0;
  notion.createdPages.length = 0;
  notion.clearRequests();
  await t.pool.query('truncate subscribers, mailouts, deliveries, test_sends, ses_events cascade');
});

/** The two databases as `npm run setup:notion -- --lang <lang>` makes them. */
function setUpDatabases(lang: Lang, options: { markers?: boolean } = {}) {
  mailouts = notion.addDatabase({ title: lang === 'ru' ? 'Письма' : 'Mailouts', properties: dataSourceProperties(MAILOUT_PROPERTIES, lang, options) });
  errors = notion.addDatabase({ title: lang === 'ru' ? 'Ошибки' : 'Errors', properties: dataSourceProperties(ERROR_PROPERTIES, lang, options) });
}

/** A row of «Письма» with its letter, values by the property names it has now. */
function addMailoutPage(values: Record<string, unknown>): string {
  const id = newId();
  const schema = notion.dataSources.get(mailouts.dataSourceId)!.properties;
  notion.addPage(makePage({ id, dataSourceId: mailouts.dataSourceId, databaseId: mailouts.databaseId, properties: rowProperties(schema, values) }));
  notion.setChildren(id, [block('paragraph', { rich_text: richText('Привет, {{name|друг}}! Главное за неделю.') })]);
  return id;
}

function deps(env: Record<string, string> = {}): SendDeps {
  const config = testConfig(t, ses.url, {
    NOTION_TOKEN: 'secret_roles',
    NOTION_BASE_URL: notion.url,
    NOTION_MAILOUTS_DATABASE_ID: mailouts.databaseId,
    NOTION_ERRORS_DATABASE_ID: errors.databaseId,
    TEST_EMAILS: 'editor@example.com',
    SEND_CONCURRENCY: '4',
    ...env,
  });
  const client = createNotionClient(config, { retry: false });
  const options = letterOptionsFromConfig(config, client);
  return sendDeps(config, t, {
    reporter: notionReporter(config, t.db, t.ledger, client),
    loadLetter: (mailoutId) => loadLetter({ kind: 'notion', pageId: mailoutId }, options),
  });
}

async function send(d: SendDeps, pageId: string, mode?: 'live' | 'test') {
  const res = await startMailout(d, { mailoutId: pageId, fromNotion: true, dryRun: false, continuation: false, ...(mode ? { mode } : {}) });
  if (res.run) await res.run();
  return res;
}

const pageProps = (id: string) => notion.pages.get(id)!.properties as Record<string, any>;
const plain = (rt: any[]): string => rt.map((r) => r.plain_text ?? r.text?.content).join('');
const claimed = async () => (await t.pool.query('select count(*)::int as n from mailouts')).rows[0].n as number;

test('a send from a Russian database: the letter goes out live and the page and «Ошибки» are written in Russian', async () => {
  setUpDatabases('ru');
  await seedSubscribers(t.pool, 20);
  const { rows } = await t.pool.query<{ email: string }>('select email from subscribers order by email limit 1');
  ses.setFailure({ to: [rows[0]!.email], error: 'MessageRejected' });
  const page = addMailoutPage({ Название: 'Новости недели', Тема: 'Главное за неделю', Тест: false, Статус: 'Готово' });

  const res = await send(deps(), page);

  expect(res.body).toMatchObject({ outcome: 'started', mode: 'live', recipients: 20 });
  expect(ses.sent).toHaveLength(19);
  expect(ses.sent[0]!.body.Content!.Simple!.Subject!.Data).toBe('Главное за неделю');
  const props = pageProps(page);
  expect(props['Статус'].select.name).toBe('Отправлено');
  expect(props['Получатели'].number).toBe(20);
  expect(props['Отправлено'].number).toBe(19);
  expect(props['Не отправлено'].number).toBe(1);
  expect(props['Отчёт'].url).toMatch(/\/api\/report\?/);
  // The failed recipient is a row of «Ошибки», created under its data source.
  const [row] = notion.createdPages;
  expect(row!.parent).toMatchObject({ type: 'data_source_id', data_source_id: errors.dataSourceId });
  expect(plain(row!.properties['Адрес'].title)).toBe(rows[0]!.email);
  expect(plain(row!.properties['Рассылка'].rich_text)).toBe(page);
  expect(plain(row!.properties['Код'].rich_text)).toBe('MessageRejected');
});

test('a send after the user renamed the properties: each is still read and written by its role', async () => {
  setUpDatabases('ru');
  for (const [from, to] of [
    ['Тема', 'Заголовок письма'],
    ['Тест', 'Пробная отправка'],
    ['Статус', 'Этап'],
    ['Отправлено', 'Ушло'],
    ['Отчёт', 'CSV'],
  ]) {
    notion.renameProperty(mailouts.dataSourceId, from!, to!);
  }
  await seedSubscribers(t.pool, 10);
  const page = addMailoutPage({ Название: 'Выпуск', 'Заголовок письма': 'Тема после переименования', 'Пробная отправка': false, Этап: 'Готово' });

  await send(deps(), page);

  expect(ses.sent).toHaveLength(10);
  expect(ses.sent[0]!.body.Content!.Simple!.Subject!.Data).toBe('Тема после переименования');
  const props = pageProps(page);
  expect(props['Этап'].select.name).toBe('Отправлено');
  expect(props['Ушло'].number).toBe(10);
  expect(props['CSV'].url).toMatch(/\/api\/report\?/);
  expect(Object.keys(props).sort()).toEqual(Object.keys(notion.dataSources.get(mailouts.dataSourceId)!.properties).sort());
});

test('a renamed Test checkbox still means test, beside another checkbox: only TEST_EMAILS get the letter', async () => {
  setUpDatabases('ru');
  notion.renameProperty(mailouts.dataSourceId, 'Тест', 'Только мне');
  // A checkbox of the user's own: the Test checkbox is not "the only checkbox" any more.
  notion.dataSources.get(mailouts.dataSourceId)!.properties['Опубликовано'] = { id: 'pub', name: 'Опубликовано', description: null, type: 'checkbox', checkbox: {} };
  await seedSubscribers(t.pool, 10);
  const page = addMailoutPage({ Название: 'Черновик выпуска', 'Только мне': true, Опубликовано: false });

  const res = await send(deps(), page);

  expect(res.body).toMatchObject({ outcome: 'test_sent', mode: 'test', recipients: 1 });
  expect(ses.sent.map((m) => m.body.Destination!.ToAddresses)).toEqual([['editor@example.com']]);
  expect(await claimed()).toBe(0);
});

test('the ticked Test checkbox wins over a body that asks for a live send', async () => {
  setUpDatabases('en');
  await seedSubscribers(t.pool, 10);
  const page = addMailoutPage({ Name: 'Draft issue', Test: true });

  const res = await send(deps(), page, 'live');

  expect(res.body).toMatchObject({ outcome: 'test_sent', mode: 'test' });
  expect(ses.sent).toHaveLength(1);
  expect(await claimed()).toBe(0);
});

test('a page whose Test checkbox cannot be found is refused, naming it in the database\'s language: nothing is claimed or sent', async () => {
  setUpDatabases('ru');
  const schema = notion.dataSources.get(mailouts.dataSourceId)!.properties;
  delete schema['Тест'];
  // Two checkboxes of the user's own, neither marked as the Test checkbox: which one means test is unknowable.
  schema['Опубликовано'] = { id: 'pub', name: 'Опубликовано', description: null, type: 'checkbox', checkbox: {} };
  schema['В архиве'] = { id: 'arc', name: 'В архиве', description: null, type: 'checkbox', checkbox: {} };
  await seedSubscribers(t.pool, 10);
  const page = addMailoutPage({ Название: 'Выпуск без галочки', Опубликовано: true });

  const err = await send(deps(), page).catch((e: unknown) => e);

  expect(isAppError(err, 'unprocessable')).toBe(true);
  expect((err as Error).message).toMatch(/no test checkbox \("Тест"\).*nothing was sent/);
  expect(ses.sent).toHaveLength(0);
  expect(await claimed()).toBe(0);
});

test('a database made before role markers still works by the names setup gave, and by the only checkbox after a rename', async () => {
  setUpDatabases('en', { markers: false });
  notion.renameProperty(mailouts.dataSourceId, 'Test', 'Тест');
  await seedSubscribers(t.pool, 5);
  const page = addMailoutPage({ Name: 'Old database', Тест: true });

  const res = await send(deps(), page);

  expect(res.body).toMatchObject({ outcome: 'test_sent' });
  expect(ses.sent).toHaveLength(1);
  expect(await claimed()).toBe(0);
});

test('Errors rows go under the first data source, also once the database has a second one', async () => {
  setUpDatabases('en');
  notion.addDataSource(errors.databaseId, { title: 'Archive', properties: {} });
  await seedSubscribers(t.pool, 5);
  const { rows } = await t.pool.query<{ email: string }>('select email from subscribers order by email limit 2');
  ses.setFailure({ to: rows.map((r) => r.email), error: 'MessageRejected' });
  const page = addMailoutPage({ Name: 'Issue', Test: false });

  await send(deps(), page);

  expect(notion.createdPages).toHaveLength(2);
  for (const row of notion.createdPages) expect(row.parent).toMatchObject({ type: 'data_source_id', data_source_id: errors.dataSourceId });
  expect(notion.calls('/v1/pages', 'POST').every((r) => (r.body as any).parent.data_source_id === errors.dataSourceId)).toBe(true);
});

test('NOTION_ERRORS_DATABASE_ID may be the data source\'s own id: the rows go under it', async () => {
  setUpDatabases('ru');
  await seedSubscribers(t.pool, 3);
  const { rows } = await t.pool.query<{ email: string }>('select email from subscribers order by email limit 1');
  ses.setFailure({ to: [rows[0]!.email], error: 'MessageRejected' });
  const page = addMailoutPage({ Название: 'Выпуск', Тест: false });

  await send(deps({ NOTION_ERRORS_DATABASE_ID: errors.dataSourceId }), page);

  expect(notion.createdPages).toHaveLength(1);
  expect(notion.createdPages[0]!.parent).toMatchObject({ type: 'data_source_id', data_source_id: errors.dataSourceId });
});
