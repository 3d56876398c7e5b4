import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { listMigrations, migrate, MIGRATIONS_DIR } from '../../scripts/db/migrate';
import { mailoutIdFromName } from '../../lib/mailout-id';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

/**
 * Migration 20261201134500_canonical_identities on a database the old code filled: every
 * spelling of one page becomes one mailout (nobody sent twice), names become the ids the code
 * now derives, a claim without a letter is closed, and any other form is refused from then on.
 */
const VERSION = '20261201134500';
const PAGE = '8b9c0d1e-2f3a-4b4c-8d5e-6f7a8b9c0d1e';
const BARE = PAGE.replace(/-/g, '');
let t: TestDatabase;
let migrateResult: Awaited<ReturnType<typeof migrate>>;
const ids: Record<string, string> = {};

async function q<T extends Record<string, unknown> = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
  return (await t.pool.query<T>(sql, params)).rows;
}

async function sqlError(sql: string, params: unknown[] = []): Promise<string | undefined> {
  try {
    await t.pool.query(sql, params);
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

beforeAll(async () => {
  t = await createTestDatabase({ empty: true });
  // The schema as it was before this migration.
  const before = fs.mkdtempSync(path.join(os.tmpdir(), 'migrations-before-'));
  for (const m of listMigrations().filter((m) => m.version < VERSION)) fs.copyFileSync(path.join(MIGRATIONS_DIR, m.file), path.join(before, m.file));
  await migrate(t.url, before);
  fs.rmSync(before, { recursive: true, force: true });

  for (const e of ['a@example.com', 'b@example.com', 'c@example.com', 'Upper@EXAMPLE.COM ', 'dup@example.com', ' dup@example.com']) {
    const [row] = await q<{ id: string }>(`insert into subscribers (email) values ($1) returning id`, [e]);
    ids[e] = row!.id;
  }
  const letter = JSON.stringify({ subject: 'Hi', html: '<p>Hi</p>', text: 'Hi' });
  const mailout = (id: string, status: string, content: string | null, lease = "now() - interval '1 minute'") =>
    q(`insert into mailouts (id, status, content, lease_until, lease_token, created_at) values ($1, $2, $3, ${lease}, gen_random_uuid(), now() - interval '1 day')`, [id, status, content]);
  const delivery = (m: string, email: string, status: string, attempted = false) =>
    q(`insert into deliveries (mailout_id, subscriber_id, email, status, attempted_at) values ($1, $2, $3, $4, ${attempted ? 'now()' : 'null'})`, [m, ids[email], email, status]);

  // One page, four spellings, as the old code keyed them.
  await mailout(PAGE, 'sent', letter);
  await delivery(PAGE, 'a@example.com', 'sent');
  await delivery(PAGE, 'b@example.com', 'sent');
  await mailout(BARE.toUpperCase(), 'sending', null);
  await delivery(BARE.toUpperCase(), 'a@example.com', 'queued');
  await delivery(BARE.toUpperCase(), 'b@example.com', 'sending', true);
  await delivery(BARE.toUpperCase(), 'c@example.com', 'queued');
  const url = `https://www.notion.so/acme/Title-${BARE}?pvs=4`;
  await mailout(url, 'paused', letter);
  await delivery(url, 'c@example.com', 'sent');
  await mailout(PAGE.toUpperCase(), 'failed', null);
  await q(`insert into notion_refresh (mailout_id, refreshed_at, pending) values ($1, now() - interval '1 hour', true), ($2, now(), false)`, [PAGE, url]);
  // Names: the demo, and a Markdown file claimed by a continuation with no letter.
  await mailout('demo-mailout', 'sent', letter);
  await delivery('demo-mailout', 'a@example.com', 'sent');
  await q(`insert into test_sends (mailout_id, run_id, email, status) values ('demo-mailout', gen_random_uuid(), 'Editor@Example.com', 'sent')`);
  await mailout('newsletter-nov', 'sending', null);
  await delivery('newsletter-nov', 'a@example.com', 'queued');

  migrateResult = await migrate(t.url);
});

afterAll(async () => {
  await t?.drop();
});

test('the spellings of one page become one mailout; a recipient sent under any of them stays sent', async () => {
  const rows = await q(`select id, status, content is not null as has_letter, recipients, sent, last_error from mailouts where id = $1`, [PAGE]);
  expect(rows).toEqual([{ id: PAGE, status: 'sent', has_letter: true, recipients: 3, sent: 3, last_error: expect.stringMatching(/4 spellings/) }]);
  const deliveries = await q(`select email, status from deliveries where mailout_id = $1 order by email`, [PAGE]);
  expect(deliveries).toEqual([
    { email: 'a@example.com', status: 'sent' },
    { email: 'b@example.com', status: 'sent' },
    { email: 'c@example.com', status: 'sent' },
  ]);
  expect(await q(`select mailout_id, pending from notion_refresh`)).toEqual([{ mailout_id: PAGE, pending: true }]);
});

test('names become the name-based ids the code derives; a claim without a letter is closed as failed with a reason', async () => {
  const demo = mailoutIdFromName('demo-mailout');
  const nov = mailoutIdFromName('newsletter-nov');
  expect(await q(`select id, status from mailouts where id = $1`, [demo])).toEqual([{ id: demo, status: 'sent' }]);
  expect(await q(`select mailout_id from test_sends`)).toEqual([{ mailout_id: demo }]);
  const [closed] = await q(`select status, lease_until, last_error from mailouts where id = $1`, [nov]);
  expect(closed).toEqual({ status: 'failed', lease_until: null, last_error: expect.stringMatching(/without a stored letter/) });
  expect(await q(`select * from mailouts_to_resume(10)`)).toEqual([]);
  expect((await q<{ id: string }>(`select id from mailouts order by id`)).map((r) => r.id).sort()).toEqual([PAGE, demo, nov].sort());
});

test('from now on the database refuses a mailout id in any other form', async () => {
  for (const bad of [BARE, PAGE.toUpperCase(), 'demo-mailout', `https://www.notion.so/${BARE}`]) {
    expect(await sqlError(`insert into mailouts (id, status) values ($1, 'sending')`, [bad])).toBe('23514');
    expect(await sqlError(`insert into test_sends (mailout_id, run_id, email, status) values ($1, gen_random_uuid(), 'e@example.com', 'sent')`, [bad])).toBe('23514');
    expect(await sqlError(`select * from claim_mailout($1, 'S', 60, '{"subject":"S"}')`, [bad])).toBe('22023');
  }
  expect(await sqlError(`insert into deliveries (mailout_id, subscriber_id, email) values ($1, gen_random_uuid(), 'e@example.com')`, [BARE])).toBe('23503');
});

test('claim_mailout claims nothing without a letter', async () => {
  const fresh = '9c0d1e2f-3a4b-4c5d-8e6f-7a8b9c0d1e2f';
  expect(await q(`select outcome, status from claim_mailout($1, null, 60, null)`, [fresh])).toEqual([{ outcome: 'no_letter', status: null }]);
  expect(await q(`select id from mailouts where id = $1`, [fresh])).toEqual([]);
});

test('the SQL name-based id equals the code\'s for any name', async () => {
  const names = ['demo-mailout', 'Ноябрьский выпуск', '🎉 issue #5', '', ' spaced ', ...Array.from({ length: 50 }, () => randomBytes(20).toString('base64'))];
  const rows = await q<{ name: string; id: string }>(`select n as name, mailout_id_from_name(n) as id from unnest($1::text[]) n`, [names]);
  for (const r of rows) expect(r.id).toBe(mailoutIdFromName(r.name));
});

test('addresses are brought into canonical form where they can be; every new or changed one must be canonical', async () => {
  expect((await q(`select email from subscribers where id = $1`, [ids['Upper@EXAMPLE.COM ']]))[0]).toEqual({ email: 'Upper@example.com' });
  // ' dup@example.com' would collide with 'dup@example.com': kept, and the upgrade says so.
  expect((await q(`select email from subscribers where id = $1`, [ids[' dup@example.com']]))[0]).toEqual({ email: ' dup@example.com' });
  expect(migrateResult.warnings.join('\n')).toMatch(/1 addresses are not in canonical form/);
  // Such a row still takes an unsubscribe or a bounce; its address cannot be changed into another bad form.
  expect(await sqlError(`update subscribers set status = 'unsubscribed' where id = $1`, [ids[' dup@example.com']])).toBeUndefined();
  expect(await sqlError(`update subscribers set email = 'Dup2@Example.com' where id = $1`, [ids[' dup@example.com']])).toBe('23514');
  for (const bad of ['new@Example.com', ' new@example.com', 'new@пример.рф', 'new @example.com', 'new', 'new@']) {
    expect(await sqlError(`insert into subscribers (email) values ($1)`, [bad])).toBe('23514');
  }
  // As the executor (service_role): the rule holds, and a canonical address goes in.
  const c = await t.connect();
  await c.query('set role service_role');
  await expect(c.query(`insert into subscribers (email) values ('role@Example.com')`)).rejects.toMatchObject({ code: '23514' });
  await c.query(`insert into subscribers (email) values ('role@example.com')`);
  await c.query('reset role');
  expect(await sqlError(`insert into subscribers (email) values ('New@xn--e1afmkfd.xn--p1ai')`)).toBeUndefined();
  expect(await sqlError(`insert into subscribers (email) values ('NEW@xn--e1afmkfd.xn--p1ai')`)).toBe('23505');
});

test('SNS and SES message ids are stored as AWS sent them, never padded or empty', async () => {
  const event = (sns: string, sesId: string | null) =>
    sqlError(`insert into ses_events (sns_message_id, event_type, ses_message_id, payload) values ($1, 'Bounce', $2, '{}')`, [sns, sesId]);
  expect(await event('', null)).toBe('23514');
  expect(await event(' 22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324', null)).toBe('23514');
  expect(await event('22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324', ' 0100018c')).toBe('23514');
  expect(await event('22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324', '0100018c-aaaa-bbbb-000000')).toBeUndefined();
});
