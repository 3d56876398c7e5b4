import fs from 'node:fs';
import path from 'node:path';
import { migrate } from '../../scripts/db/migrate';
import { applySesEvent } from '../../lib/feedback/store';
import { parseSesMessage } from '../../lib/feedback/ses';
import { importSubscriberRows } from '../../lib/import/store';
import { applyUnsubscribe } from '../../lib/unsubscribe';
import { unsubscribeToken } from '../../lib/unsubscribe/token';
import { createTestDatabase, migrateBefore, STORED_LETTER, type TestDatabase } from '../helpers/db';

/**
 * A complaint suppresses for good, like a hard bounce: the old link's "subscribe again", a
 * re-import (also of a row deleted and imported anew) and later events never make an address
 * that complained active again, and the page says why. Addresses that complained before the
 * migration (20261203100100) are suppressed too.
 */
const FIXTURES = path.join(__dirname, 'fixtures');
const SECRET = 'complaint-test-unsubscribe-secret';
const config = { unsubscribeSecret: SECRET, listName: 'Новости' };
let t: TestDatabase;

/** An SES event of the fixture's type (AWS documentation payloads), for `email`. */
function sesEvent(fixture: string, email: string) {
  const raw = fs.readFileSync(path.join(FIXTURES, `${fixture}.json`), 'utf8').replaceAll('recipient@example.com', email);
  return parseSesMessage(raw);
}

async function status(email: string): Promise<string> {
  return (await t.pool.query(`select status from subscribers where lower(email) = lower($1)`, [email])).rows[0]?.status;
}

async function subscriber(email: string): Promise<string> {
  return (await t.pool.query(`insert into subscribers (email, name, source) values ($1, 'Анна', 'test') returning id`, [email])).rows[0].id;
}

beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t.drop();
});

test('after a complaint, the old link\'s "subscribe again", a re-import and a later delivery leave the address out; the page says why', async () => {
  const id = await subscriber('anna@example.com');
  const applied = await applySesEvent(t.db, { snsMessageId: 'sns-complaint-1', event: sesEvent('event-complaint', 'anna@example.com'), softBounceLimit: 3 });
  expect(applied).toMatchObject({ applied: true, unsubscribed: 1 });
  expect(await status('anna@example.com')).toBe('complained');

  const page = await applyUnsubscribe(unsubscribeToken(SECRET, id), 'resubscribe', { ledger: t.ledger, config });
  expect(page).toMatchObject({ status: 200, state: 'complained' });
  expect(page.html).toContain('отметили как спам');
  expect(page.html).not.toContain('name="action"');
  expect(await status('anna@example.com')).toBe('complained');

  await importSubscriberRows(t.db, [{ email: 'Anna@example.com', name: 'Анна', source: 'reimport' }], false);
  await applySesEvent(t.db, { snsMessageId: 'sns-delivery-1', event: sesEvent('event-delivery', 'anna@example.com'), softBounceLimit: 3 });
  expect(await status('anna@example.com')).toBe('complained');

  const claim = await t.ledger.claim('2b3c4d5e-6f70-4a8b-9c0d-1e2f3a4b5c6e', { leaseSeconds: 60, content: STORED_LETTER });
  expect(claim.recipients).toBe(0);
});

test('an address that complained, deleted and imported anew, starts as complained', async () => {
  await subscriber('boris@example.com');
  await applySesEvent(t.db, { snsMessageId: 'sns-complaint-2', event: sesEvent('event-complaint', 'boris@example.com'), softBounceLimit: 3 });
  await t.pool.query(`delete from subscribers where email = 'boris@example.com'`);
  expect(await importSubscriberRows(t.db, [{ email: 'boris@example.com', name: 'Борис', source: 'again' }], false)).toMatchObject({ inserted: 1 });
  expect(await status('boris@example.com')).toBe('complained');
});

test('a hard bounce stays bounced after a complaint, and an unsubscribed address that complains is suppressed too', async () => {
  await subscriber('vera@example.com');
  await applySesEvent(t.db, { snsMessageId: 'sns-bounce-3', event: sesEvent('event-bounce', 'vera@example.com'), softBounceLimit: 3 });
  await applySesEvent(t.db, { snsMessageId: 'sns-complaint-3', event: sesEvent('event-complaint', 'vera@example.com'), softBounceLimit: 3 });
  expect(await status('vera@example.com')).toBe('bounced');

  await t.pool.query(`insert into subscribers (email, status) values ('gleb@example.com', 'unsubscribed')`);
  await applySesEvent(t.db, { snsMessageId: 'sns-complaint-4', event: sesEvent('event-complaint', 'gleb@example.com'), softBounceLimit: 3 });
  expect(await status('gleb@example.com')).toBe('complained');
});

test('addresses that complained before the migration are suppressed by it', async () => {
  const old = await createTestDatabase({ empty: true });
  try {
    await migrateBefore(old, '20261203100100');
    await old.pool.query(`insert into subscribers (email, status) values ('dina@example.com', 'unsubscribed'), ('egor@example.com', 'active')`);
    await old.pool.query(
      `insert into ses_events (sns_message_id, event_type, email, recipients, payload) values ('sns-old-1', 'Complaint', 'dina@example.com', '{dina@example.com}', '{}')`,
    );
    await migrate(old.url);
    const { rows } = await old.pool.query(`select email, status from subscribers order by email`);
    expect(rows).toEqual([
      { email: 'dina@example.com', status: 'complained' },
      { email: 'egor@example.com', status: 'active' },
    ]);
  } finally {
    await old.drop();
  }
});
