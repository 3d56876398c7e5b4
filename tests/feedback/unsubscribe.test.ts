import { createUnsubscribeHandlers } from '../../api/unsubscribe';
import { createLedger } from '../../lib/db/ledger';
import { createPostgresDb } from '../../lib/db/postgres';
import {
  testUnsubscribeToken,
  testUnsubscribeUrl,
  unsubscribeToken,
  unsubscribeUrl,
  verifyUnsubscribeToken,
  type UnsubscribeDeps,
} from '../../lib/unsubscribe';
import { setLogSink } from '../../lib/log';
import { createTestDatabase, seedSubscribers, type TestDatabase } from '../helpers/db';

const SECRET = 'unsubscribe-secret-for-tests-0123456789';
const config = { unsubscribeSecret: SECRET, listName: 'Письма <Тест> & Co', appBaseUrl: 'https://mail.example.com' };

let t: TestDatabase;
let ids: string[];
let logs: string[] = [];
let restoreSink: (line: string) => void;
let handlers: ReturnType<typeof createUnsubscribeHandlers>;

beforeAll(async () => {
  t = await createTestDatabase();
  restoreSink = setLogSink((line) => logs.push(line));
  handlers = createUnsubscribeHandlers(() => ({ ledger: t.ledger, config }));
});
afterAll(async () => {
  setLogSink(restoreSink);
  await t.drop();
});
beforeEach(async () => {
  logs = [];
  await t.pool.query('truncate subscribers cascade');
  ids = await seedSubscribers(t.pool, 3);
});

async function statuses(): Promise<string[]> {
  const { rows } = await t.pool.query('select id, status from subscribers');
  const byId = new Map(rows.map((r) => [r.id as string, r.status as string]));
  return ids.map((id) => byId.get(id)!);
}
async function snapshot(): Promise<unknown[]> {
  return (await t.pool.query('select * from subscribers order by id')).rows;
}

const url = (token: string) => `https://mail.example.com/api/unsubscribe?token=${encodeURIComponent(token)}`;
const get = (token: string) => handlers.GET(new Request(url(token)));
const postForm = (token: string, fields: Record<string, string>) =>
  handlers.POST(new Request(url(token), { method: 'POST', body: new URLSearchParams(fields) }));
const postMultipart = (token: string, fields: Record<string, string>) => {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  return handlers.POST(new Request(url(token), { method: 'POST', body: form }));
};

function expectCleanPage(res: Response): void {
  expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
  expect(res.headers.get('location')).toBeNull();
  expect(res.headers.get('set-cookie')).toBeNull();
  expect(res.headers.get('referrer-policy')).toBe('no-referrer');
  expect(res.headers.get('cache-control')).toBe('no-store');
}

// ---------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------

test('a subscriber token round-trips, carries no email, and is URL-safe', () => {
  const token = unsubscribeToken(SECRET, ids[0]!);
  expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  expect(token).not.toMatch(/@|sub0/);
  // The payload is the kind byte and the id's 16 bytes: no room for an email. (A random id byte
  // may be 0x40, so "no '@' in the decoded bytes" would fail one run in sixteen.)
  const payload = Buffer.from(token.split('.')[0]!, 'base64url');
  expect(payload).toHaveLength(17);
  expect(payload.toString('latin1')).not.toContain('sub0@example.com');
  expect(verifyUnsubscribeToken(SECRET, token)).toEqual({ kind: 'subscriber', subscriberId: ids[0] });
});

test('a test-send token round-trips to the email and mailout', () => {
  const token = testUnsubscribeToken(SECRET, 'editor@example.com', '39fe3b8e-7604-8571-8392-cd791b917db8');
  expect(verifyUnsubscribeToken(SECRET, token)).toEqual({ kind: 'test', email: 'editor@example.com', mailoutId: '39fe3b8e-7604-8571-8392-cd791b917db8' });
});

test('tampered, truncated, re-keyed or malformed tokens are refused', () => {
  const token = unsubscribeToken(SECRET, ids[0]!);
  const [payload, mac] = token.split('.') as [string, string];
  const other = unsubscribeToken(SECRET, ids[1]!);
  const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
  for (const bad of [
    `${flip(payload, 3)}.${mac}`,
    `${payload}.${flip(mac, 5)}`,
    `${payload}.${mac.slice(0, -2)}`,
    `${other.split('.')[0]}.${mac}`,
    `${payload}.${other.split('.')[1]}`,
    unsubscribeToken('another-secret-of-enough-length', ids[0]!),
    `${payload}.${mac}.x`,
    payload,
    '',
    '..',
    `${payload}.${mac}=`,
    `${payload}.${mac.slice(0, -1)}+`,
  ]) {
    expect({ bad, result: verifyUnsubscribeToken(SECRET, bad) }).toEqual({ bad, result: null });
  }
  expect(verifyUnsubscribeToken(SECRET, null)).toBeNull();
  expect(verifyUnsubscribeToken(SECRET, 'x'.repeat(5000))).toBeNull();
});

test('the URLs point at /api/unsubscribe on APP_BASE_URL', () => {
  expect(unsubscribeUrl(config, ids[0]!)).toBe(`https://mail.example.com/api/unsubscribe?token=${unsubscribeToken(SECRET, ids[0]!)}`);
  expect(testUnsubscribeUrl({ ...config, appBaseUrl: 'https://x.example/' }, 'a@b.c', '1d51f376-0c6e-8172-bb0b-72553f7b3fab')).toBe(
    `https://x.example/api/unsubscribe?token=${testUnsubscribeToken(SECRET, 'a@b.c', '1d51f376-0c6e-8172-bb0b-72553f7b3fab')}`,
  );
});

// ---------------------------------------------------------------------------------------
// GET changes nothing
// ---------------------------------------------------------------------------------------

test('GET shows a bilingual page with one button that POSTs to the same URL, and changes nothing', async () => {
  const before = await snapshot();
  const token = unsubscribeToken(SECRET, ids[0]!);
  const res = await get(token);
  expect(res.status).toBe(200);
  expectCleanPage(res);
  const html = await res.text();
  expect(html).toContain('Отписаться');
  expect(html).toContain('Unsubscribe');
  expect(html).toContain('Письма &lt;Тест&gt; &amp; Co');
  expect(html).not.toContain('<Тест>');
  expect(html.match(/<button/g)).toHaveLength(1);
  expect(html).toContain(`<form method="post" action="?token=${token}">`);
  expect(html).not.toMatch(/<script/i);
  expect(await snapshot()).toEqual(before);
});

test('GET with a bad token is a 400 page, not a stack trace', async () => {
  const res = await get('garbage.token');
  expect(res.status).toBe(400);
  expectCleanPage(res);
  const html = await res.text();
  expect(html).toContain('Invalid link');
  expect(html).not.toMatch(/<form|Error:|at /);
  const none = await handlers.GET(new Request('https://mail.example.com/api/unsubscribe'));
  expect(none.status).toBe(400);
});

// ---------------------------------------------------------------------------------------
// POST unsubscribes: the button, and RFC 8058 one-click in both encodings
// ---------------------------------------------------------------------------------------

test('POST from the page button unsubscribes, 200, no redirect', async () => {
  const res = await postForm(unsubscribeToken(SECRET, ids[0]!), { action: 'unsubscribe' });
  expect(res.status).toBe(200);
  expectCleanPage(res);
  const html = await res.text();
  expect(html).toContain('data-state="unsubscribed"');
  expect(html).toContain('Subscribe again');
  expect(await statuses()).toEqual(['unsubscribed', 'active', 'active']);
});

test('RFC 8058 one-click, application/x-www-form-urlencoded, unsubscribes', async () => {
  const res = await postForm(unsubscribeToken(SECRET, ids[1]!), { 'List-Unsubscribe': 'One-Click' });
  expect(res.status).toBe(200);
  expect(await statuses()).toEqual(['active', 'unsubscribed', 'active']);
});

test('RFC 8058 one-click, multipart/form-data, unsubscribes', async () => {
  const res = await postMultipart(unsubscribeToken(SECRET, ids[2]!), { 'List-Unsubscribe': 'One-Click' });
  expect(res.status).toBe(200);
  expect(await statuses()).toEqual(['active', 'active', 'unsubscribed']);
});

test('already unsubscribed: the same success page; repeated POSTs change nothing more', async () => {
  const token = unsubscribeToken(SECRET, ids[0]!);
  const first = await (await postForm(token, { 'List-Unsubscribe': 'One-Click' })).text();
  const at = (await t.pool.query('select status_updated_at from subscribers where id = $1', [ids[0]])).rows[0].status_updated_at;
  const second = await postForm(token, { 'List-Unsubscribe': 'One-Click' });
  expect(second.status).toBe(200);
  expect(await second.text()).toBe(first);
  expect((await t.pool.query('select status_updated_at from subscribers where id = $1', [ids[0]])).rows[0].status_updated_at).toEqual(at);
});

test('a tampered token is rejected by POST with a 400 page and nothing changes', async () => {
  const before = await snapshot();
  const token = unsubscribeToken(SECRET, ids[0]!);
  const tampered = `${token.slice(0, 4)}${token[4] === 'A' ? 'B' : 'A'}${token.slice(5)}`;
  const res = await postForm(tampered, { 'List-Unsubscribe': 'One-Click' });
  expect(res.status).toBe(400);
  expect(await res.text()).toContain('data-state="invalid"');
  expect(await snapshot()).toEqual(before);
});

test('a test-send recipient\'s link works without touching the subscriber table', async () => {
  const before = await snapshot();
  const token = testUnsubscribeToken(SECRET, 'sub0@example.com', 'page-1');
  const page = await get(token);
  expect(page.status).toBe(200);
  const res = await postForm(token, { 'List-Unsubscribe': 'One-Click' });
  expect(res.status).toBe(200);
  expect(await res.text()).toContain('data-state="unsubscribed"');
  expect(await snapshot()).toEqual(before);
});

// ---------------------------------------------------------------------------------------
// Resubscribe
// ---------------------------------------------------------------------------------------

test('resubscribe moves unsubscribed back to active', async () => {
  const token = unsubscribeToken(SECRET, ids[0]!);
  await postForm(token, { action: 'unsubscribe' });
  const res = await postForm(token, { action: 'resubscribe' });
  expect(res.status).toBe(200);
  expect(await res.text()).toContain('data-state="resubscribed"');
  expect(await statuses()).toEqual(['active', 'active', 'active']);
});

test('resubscribe leaves a bounced address bounced, and unsubscribing it keeps it bounced', async () => {
  await t.pool.query(`update subscribers set status = 'bounced', bounce_type = 'Permanent' where id = $1`, [ids[1]]);
  const token = unsubscribeToken(SECRET, ids[1]!);
  const res = await postForm(token, { action: 'resubscribe' });
  expect(res.status).toBe(200);
  const html = await res.text();
  expect(html).toContain('data-state="cannot_resubscribe"');
  expect(html).not.toContain('<form');
  await postForm(token, { 'List-Unsubscribe': 'One-Click' });
  expect(await statuses()).toEqual(['active', 'bounced', 'active']);
});

test('a subscriber that no longer exists: unsubscribe shows success, resubscribe a 404 page', async () => {
  const token = unsubscribeToken(SECRET, '00000000-0000-4000-8000-000000000000');
  expect((await postForm(token, { 'List-Unsubscribe': 'One-Click' })).status).toBe(200);
  expect((await postForm(token, { action: 'resubscribe' })).status).toBe(404);
});

test('a database fault is a 503 page (try again), never a stack trace', async () => {
  const down = createPostgresDb('postgres://postgres:postgres@127.0.0.1:1/none', { connectionTimeoutMillis: 500 });
  const deps: UnsubscribeDeps = { ledger: createLedger(down), config };
  const h = createUnsubscribeHandlers(() => deps);
  try {
    const res = await h.POST(new Request(url(unsubscribeToken(SECRET, ids[0]!)), { method: 'POST', body: new URLSearchParams({ 'List-Unsubscribe': 'One-Click' }) }));
    expect(res.status).toBe(503);
    const html = await res.text();
    expect(html).toContain('data-state="error"');
    expect(html).not.toMatch(/postgres|ECONNREFUSED/);
  } finally {
    await down.close();
  }
});

test('neither the token nor the secret appears in the logs', async () => {
  const token = unsubscribeToken(SECRET, ids[0]!);
  await postForm(token, { 'List-Unsubscribe': 'One-Click' });
  expect(logs.join('\n')).not.toContain(token.split('.')[1]!);
  expect(logs.join('\n')).not.toContain(SECRET);
});

test('other methods are refused with 405', async () => {
  const res = await handlers.POST(new Request(url('x'), { method: 'PUT', body: '' }));
  expect(res.status).toBe(405);
});
