import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { resetConfig } from '../../lib/config';
import { listMigrations } from '../../scripts/db/migrate';
import { startLocalStack, type LocalStack } from '../../scripts/local/stack';
import { block, checkboxProperty, makePage, richText, selectProperty, startFakeNotion, titleProperty, type FakeNotion } from '../../scripts/fakes/notion';
import { createTestDatabase, seedSubscribers, type TestDatabase } from '../helpers/db';
import { startPgBouncer, type PgBouncer } from '../helpers/pgbouncer';

/**
 * The product with DATABASE_URL on a transaction pooler, as a Vercel deployment reaches
 * Supabase (port 6543): a real PgBouncer in transaction mode with fewer server connections
 * than the send function opens, so its transactions interleave on shared server connections.
 * The local stack migrates through it, then the Notion webhook's send runs to the end.
 */
const PAGE = '5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d';
const NOTION_TOKEN = 'secret_pooler_notion';
const SUBSCRIBERS = 60;
const POOL_SIZE = 2;

let bouncer: PgBouncer;
let t: TestDatabase;
let notion: FakeNotion;
let stack: LocalStack;
let tmp: string;
const savedEnv = { ...process.env };

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mailout-pooler-'));
  bouncer = await startPgBouncer({ serverUrl: process.env.TEST_PG_ADMIN_URL!, poolSize: POOL_SIZE });
  t = await createTestDatabase({ empty: true });
  notion = await startFakeNotion({ token: NOTION_TOKEN });
  // Only pages of the Mailouts database are sent (lib/notion/membership).
  const mailoutsDb = notion.addDatabase({ title: 'Mailouts' });
  notion.addPage(
    makePage({
      id: PAGE,
      dataSourceId: mailoutsDb.dataSourceId,
      properties: { Name: titleProperty('Выпуск через пулер'), Test: checkboxProperty(false), Status: selectProperty('Ready') },
    }),
  );
  notion.setChildren(PAGE, [block('paragraph', { rich_text: richText('Здравствуйте, {{name|читатель}}!') })]);
  Object.assign(process.env, {
    DATABASE_URL: bouncer.urlFor(t.url),
    NOTION_TOKEN,
    NOTION_BASE_URL: notion.url,
    NOTION_MAILOUTS_DATABASE_ID: mailoutsDb.databaseId,
    RATE_LIMIT_PER_SEC: '200',
    LOG_LEVEL: 'warn',
  });
  delete process.env.SES_ENDPOINT;
  delete process.env.SUPABASE_URL;
  stack = await startLocalStack({ rootDir: path.resolve(__dirname, '..', '..'), dataDir: tmp, persistent: false });
});

afterAll(async () => {
  await stack?.stop();
  await notion?.close();
  await t?.drop();
  await bouncer?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
  process.env = savedEnv;
  resetConfig();
});

/** What a session can leave on a server connection for the next client of a transaction pooler. */
const SESSION_STATE_SQL = `
  select (select count(*)::int from pg_prepared_statements) as prepared_statements,
         (select count(*)::int from pg_locks where locktype = 'advisory') as advisory_locks,
         (select count(*)::int from pg_class where relpersistence = 't') as temp_tables,
         (select count(*)::int from pg_listening_channels()) as listening,
         (select coalesce(array_agg(name::text order by name), '{}') from pg_settings
           where source = 'session'
             -- Set by PgBouncer itself to each client's startup values.
             and name not in ('application_name', 'client_encoding', 'datestyle', 'timezone', 'standard_conforming_strings')) as session_settings`;

/** The state of every server connection PgBouncer holds: as many open transactions at once as it has connections. */
async function serverSessionStates(): Promise<unknown[]> {
  const clients = Array.from({ length: POOL_SIZE }, () => new Client({ connectionString: bouncer.urlFor(t.url) }));
  try {
    await Promise.all(clients.map((c) => c.connect()));
    for (const c of clients) await c.query('begin');
    const states = [];
    for (const c of clients) states.push((await c.query(SESSION_STATE_SQL)).rows[0]);
    for (const c of clients) await c.query('commit');
    return states;
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  }
}

test('through a transaction pooler the stack migrates, a webhook sends to every subscriber once, and no session state is left behind', async () => {
  const { rows: applied } = await t.pool.query('select count(*)::int as n from supabase_migrations.schema_migrations');
  expect(applied[0].n).toBe(listMigrations().length);
  await seedSubscribers(t.pool, SUBSCRIBERS);

  const started = await fetch(`${stack.apiUrl}/api/send-mailout`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.secret}` },
    body: JSON.stringify({ source: { type: 'automation' }, data: { object: 'page', id: PAGE, properties: {} } }),
  });
  // Answered before the page is read (lib/send/webhook.ts); the claim and the send follow.
  expect(await started.json()).toMatchObject({ outcome: 'accepted', mode: 'live', mailout_id: PAGE });
  expect(started.status).toBe(202);
  await stack.api.idle();
  expect((await t.pool.query('select recipients from mailouts where id = $1', [PAGE])).rows).toEqual([{ recipients: SUBSCRIBERS }]);

  const { rows: ledger } = await t.pool.query(`select status, count(*)::int as n from deliveries where mailout_id = $1 group by status`, [PAGE]);
  expect(ledger).toEqual([{ status: 'sent', n: SUBSCRIBERS }]);
  const { rows: mailout } = await t.pool.query('select status from mailouts where id = $1', [PAGE]);
  expect(mailout[0].status).toBe('sent');
  const inbox = (await (await fetch(`${stack.sesUrl}/store`)).json()) as { emails: { destination: { to: string[] } }[] };
  const to = inbox.emails.map((e) => e.destination.to[0]);
  expect(to).toHaveLength(SUBSCRIBERS);
  expect(new Set(to).size).toBe(SUBSCRIBERS);

  const clean = { prepared_statements: 0, advisory_locks: 0, temp_tables: 0, listening: 0, session_settings: [] };
  expect(await serverSessionStates()).toEqual(Array.from({ length: POOL_SIZE }, () => clean));
});
