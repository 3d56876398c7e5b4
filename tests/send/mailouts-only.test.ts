import { createApp } from '../../lib/app';
import { loadConfig, resetConfig, type Config } from '../../lib/config';
import { membershipOf } from '../../lib/notion/membership';
import { startMailout, type SendRequest } from '../../lib/send';
import { POST } from '../../api/send-mailout';
import { startFakeSes, type FakeSes } from '../../scripts/fakes/ses';
import { block, checkboxProperty, makePage, newId, richText, startFakeNotion, titleProperty, type FakeNotion } from '../../scripts/fakes/notion-page';
import { createTestDatabase, seedSubscribers, type TestDatabase } from '../helpers/db';
import { readySender, testEnv } from './helpers';

/**
 * Permission to send is membership in the Mailouts database: a page the integration can
 * read but that is not a row of NOTION_MAILOUTS_DATABASE_ID (another database, a standalone
 * page, a sub-page) gets a 403 naming the variable, live, test or dry run, through the
 * webhook, the CLI's path and a continuation; nothing is claimed, sent or revealed.
 */
const TOKEN = 'secret_membership';
const SECRET = 'test-executor-secret-0123456789';
let t: TestDatabase;
let ses: FakeSes;
let notion: FakeNotion;
let mailouts: { databaseId: string; dataSourceId: string };
let other: { databaseId: string; dataSourceId: string };
let secondSource: string;
const saved = { ...process.env };

const SUBJECT = 'Private HR notes';

function addLetterPage(parent: { dataSourceId?: string } | { pageId: string } | 'workspace'): string {
  const id = newId();
  const page = makePage({
    id,
    ...(typeof parent === 'object' && 'dataSourceId' in parent ? { dataSourceId: parent.dataSourceId } : {}),
    properties: { Name: titleProperty(SUBJECT), Test: checkboxProperty(false) },
  });
  if (typeof parent === 'object' && 'pageId' in parent) page.parent = { type: 'page_id', page_id: parent.pageId };
  notion.addPage(page);
  notion.setChildren(id, [block('paragraph', { rich_text: richText('Salaries, reviews.') })]);
  return id;
}

function env(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const base: Record<string, string | undefined> = {
    ...testEnv(t, ses.url),
    NOTION_TOKEN: TOKEN,
    NOTION_BASE_URL: notion.url,
    NOTION_MAILOUTS_DATABASE_ID: mailouts.databaseId,
    ...extra,
  };
  return Object.fromEntries(Object.entries(base).filter((e): e is [string, string] => e[1] !== undefined));
}

function cliDeps(config: Config) {
  const deps = createApp(config).sendDeps();
  // These tests are about membership; tests/readiness tests the sender checks.
  deps.readiness = readySender;
  deps.deadline = () => Number.POSITIVE_INFINITY;
  delete deps.continueElsewhere;
  return deps;
}

async function webhook(pageId: string, body: Record<string, unknown> = {}): Promise<{ status: number; body: Record<string, any> }> {
  const res = await POST(
    new Request('https://mailout.example.com/api/send-mailout', {
      method: 'POST',
      headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' },
      body: JSON.stringify({ mailout_id: pageId, ...body }),
    }),
  );
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

async function nothingHappened(): Promise<void> {
  expect((await t.pool.query('select count(*)::int as n from mailouts')).rows[0].n).toBe(0);
  expect((await t.pool.query('select count(*)::int as n from test_sends')).rows[0].n).toBe(0);
  expect(ses.calls).toHaveLength(0);
  // The page's body was never read.
  expect(notion.calls(/\/children$/, 'GET')).toHaveLength(0);
}

beforeAll(async () => {
  t = await createTestDatabase();
  ses = await startFakeSes({ account: { SendQuota: { Max24HourSend: -1, MaxSendRate: 5000 } } });
  notion = await startFakeNotion({ token: TOKEN });
  mailouts = notion.addDatabase({ title: 'Mailouts' });
  other = notion.addDatabase({ title: 'HR' });
  // A second data source of the Mailouts database (Notion API 2025-09-03: a database holds one or more).
  secondSource = newId();
  notion.dataSources.set(secondSource, { ...structuredClone(notion.dataSources.get(mailouts.dataSourceId)!), id: secondSource });
  notion.databases.get(mailouts.databaseId)!.data_sources.push({ id: secondSource, name: 'Mailouts, archive' });
  await seedSubscribers(t.pool, 9);
});
afterAll(async () => {
  process.env = saved;
  resetConfig();
  await notion.close();
  await ses.close();
  await t.drop();
});
beforeEach(async () => {
  ses.reset();
  notion.clearRequests();
  await t.pool.query('truncate mailouts, deliveries, test_sends cascade');
  process.env = { ...saved, ...env() };
  resetConfig();
});

describe.each([
  ['a page of another database', () => addLetterPage({ dataSourceId: other.dataSourceId })],
  ['a standalone page', () => addLetterPage('workspace')],
  ['a sub-page of a mailout page', () => addLetterPage({ pageId: addLetterPage({ dataSourceId: mailouts.dataSourceId }) })],
])('%s is refused with 403 naming NOTION_MAILOUTS_DATABASE_ID', (_what, makeOutsider) => {
  test.each([
    ['live', {}],
    ['test', { mode: 'test' }],
    ['dry run', { dry_run: true }],
  ])('from the webhook, %s: nothing claimed, sent or revealed', async (_mode, body) => {
    const page = makeOutsider();
    const res = await webhook(page, body);
    expect(res.status).toBe(403);
    expect(res.body.message).toContain('NOTION_MAILOUTS_DATABASE_ID');
    expect(JSON.stringify(res.body)).not.toContain(SUBJECT);
    await nothingHappened();
  });

  test("from the CLI's path (npm run send), live", async () => {
    const page = makeOutsider();
    const req: SendRequest = { mailoutId: page, fromNotion: false, dryRun: false, continuation: false };
    await expect(startMailout(cliDeps(loadConfig(env())), req)).rejects.toMatchObject({ status: 403, message: expect.stringContaining('NOTION_MAILOUTS_DATABASE_ID') });
    await nothingHappened();
  });
});

test('a page of the Mailouts database is sent, from either of its data sources', async () => {
  for (const dataSourceId of [mailouts.dataSourceId, secondSource]) {
    const page = addLetterPage({ dataSourceId });
    const res = await webhook(page, { dry_run: true });
    expect(res).toMatchObject({ status: 200, body: { outcome: 'dry_run', subject: SUBJECT, recipients: 9 } });
  }
  const live = addLetterPage({ dataSourceId: secondSource });
  const deps = cliDeps(loadConfig(env()));
  const started = await startMailout(deps, { mailoutId: live, fromNotion: false, dryRun: false, continuation: false });
  expect(started.status).toBe(202);
  expect(await started.run!()).toMatchObject({ outcome: 'complete', sent: 9 });
});

test('a parent that names only its data source is looked up among the database\'s data sources', () => {
  const page = { parent: { type: 'data_source_id', data_source_id: secondSource } };
  expect(membershipOf(page, mailouts.databaseId)).toBe('ask_data_sources');
  expect(membershipOf(page, mailouts.databaseId, [mailouts.dataSourceId, secondSource])).toBe('member');
  expect(membershipOf(page, mailouts.databaseId, [mailouts.dataSourceId])).toBe('not_member');
  expect(membershipOf({ parent: { type: 'database_id', database_id: mailouts.databaseId } }, mailouts.databaseId)).toBe('member');
  expect(membershipOf({ parent: { type: 'workspace', workspace: true } }, mailouts.databaseId)).toBe('not_member');
});

test('a page moved out of the Mailouts database between the claim and the continuation is not sent on', async () => {
  const page = addLetterPage({ dataSourceId: mailouts.dataSourceId });
  const deps = cliDeps(loadConfig(env()));
  const started = await startMailout(deps, { mailoutId: page, fromNotion: true, dryRun: false, continuation: false });
  expect(started.status).toBe(202);
  // The invocation stops before sending (its lease runs out), and the page is moved away.
  await t.pool.query(`update mailouts set lease_until = now() - interval '1 second' where id = $1`, [page]);
  notion.pages.get(page)!.parent = { type: 'workspace', workspace: true };
  notion.clearRequests();

  const res = await webhook(page, { continuation: true });
  expect(res.status).toBe(403);
  expect(res.body.message).toContain('NOTION_MAILOUTS_DATABASE_ID');
  expect(ses.calls).toHaveLength(0);
  const { rows } = await t.pool.query(`select status, count(*)::int as n from deliveries where mailout_id = $1 group by status`, [page]);
  expect(rows).toEqual([{ status: 'queued', n: 9 }]);
  // One request for the check: the page, not its body.
  expect(notion.calls(`/v1/pages/${page}`, 'GET')).toHaveLength(1);
  expect(notion.calls(/\/children$/, 'GET')).toHaveLength(0);

  // Moved back, the continuation sends.
  notion.pages.get(page)!.parent = { type: 'data_source_id', data_source_id: mailouts.dataSourceId, database_id: mailouts.databaseId };
  const again = await webhook(page, { continuation: true });
  expect(again.status).toBe(202);
});

test.each([
  ['unset', undefined, /NOTION_MAILOUTS_DATABASE_ID is not set/],
  ['empty', '', /NOTION_MAILOUTS_DATABASE_ID is not set/],
])('NOTION_MAILOUTS_DATABASE_ID %s: a Notion send refuses, naming it', async (_what, value, message) => {
  const page = addLetterPage({ dataSourceId: mailouts.dataSourceId });
  process.env = { ...saved, ...env({ NOTION_MAILOUTS_DATABASE_ID: value }) };
  resetConfig();
  const res = await webhook(page, { dry_run: true });
  expect(res.status).toBe(500);
  expect(res.body.message).toMatch(message);
  await nothingHappened();
});

test('NOTION_MAILOUTS_DATABASE_ID that is not a database id is refused, naming it; a database link is its id', () => {
  expect(() => loadConfig(env({ NOTION_MAILOUTS_DATABASE_ID: 'not-an-id' }))).toThrow(/NOTION_MAILOUTS_DATABASE_ID is not a Notion database id or link/);
  const bare = mailouts.databaseId.replace(/-/g, '');
  expect(loadConfig(env({ NOTION_MAILOUTS_DATABASE_ID: `https://www.notion.so/acme/${bare}?v=0123456789abcdef0123456789abcdef` })).notion.mailoutsDatabaseId).toBe(
    mailouts.databaseId,
  );
  expect(loadConfig(env({ NOTION_MAILOUTS_DATABASE_ID: bare.toUpperCase() })).notion.mailoutsDatabaseId).toBe(mailouts.databaseId);
});
