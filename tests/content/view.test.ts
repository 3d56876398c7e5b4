import { renderMailout, webVersion } from '../../lib/render';
import { PAGE_HEADERS, unsubscribePage } from '../../lib/unsubscribe';
import { viewLetter, viewSignature, viewUrl } from '../../lib/view';
import { createLedger } from '../../lib/db/ledger';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

/** The web version (lib/view behind api/view.ts) against a real database; the browser test opens it in Chromium. */

const CONFIG = { appBaseUrl: 'https://mail.example.com', unsubscribeSecret: 'view-test-unsubscribe-secret-0123456789' };
const MAILOUT = '44444444-5555-4666-8777-888888888888';
let t: TestDatabase;

beforeAll(async () => {
  t = await createTestDatabase();
  const letter = renderMailout({
    markdown: 'Привет, {{name|друг}}!\n\nНовости недели.',
    subject: 'Новости',
    listName: 'Пример',
    viewUrl: viewUrl(CONFIG, MAILOUT),
  });
  await t.ledger.claim(MAILOUT, { subject: letter.subject, leaseSeconds: 60, content: letter });
});
afterAll(async () => {
  await t.drop();
});

const deps = () => ({ ledger: t.ledger, config: CONFIG });
const sig = (id: string) => viewSignature(CONFIG.unsubscribeSecret, id);

test('serves the stored letter with no reader in it, cacheable, and a 304 for its ETag', async () => {
  const r = await viewLetter(deps(), { mailoutId: MAILOUT, sig: sig(MAILOUT), ifNoneMatch: null });
  expect(r.status).toBe(200);
  expect(r.headers['cache-control']).toMatch(/^public, max-age=3600/);
  expect(r.body).toContain('Привет, друг!');
  expect(r.body).not.toMatch(/unsubscribe|Отписаться|Открыть в браузере|\{\{/);
  const again = await viewLetter(deps(), { mailoutId: MAILOUT, sig: sig(MAILOUT), ifNoneMatch: `W/${r.headers.etag}` });
  expect(again).toEqual({ status: 304, headers: r.headers, body: null });
});

test('a signature for another mailout, a changed one or none is refused before the database is asked', async () => {
  const refusingDb = { ...t.db, rpc: () => Promise.reject(new Error('the database must not be asked')) };
  for (const s of [sig('55555555-6666-4777-8888-999999999999'), `${sig(MAILOUT).slice(0, -2)}AA`, '', null]) {
    const r = await viewLetter({ ledger: createLedger(refusingDb), config: CONFIG }, { mailoutId: MAILOUT, sig: s, ifNoneMatch: null });
    expect(r.status).toBe(403);
    expect(r.headers['cache-control']).toBe('no-store');
  }
  const other = await viewLetter({ ledger: t.ledger, config: { unsubscribeSecret: 'another-secret-entirely-0123456789' } }, { mailoutId: MAILOUT, sig: sig(MAILOUT), ifNoneMatch: null });
  expect(other.status).toBe(403);
});

test('a mailout not claimed yet has no web version: 404, not cached', async () => {
  const id = '66666666-7777-4888-8999-aaaaaaaaaaaa';
  const r = await viewLetter(deps(), { mailoutId: id, sig: sig(id), ifNoneMatch: null });
  expect(r.status).toBe(404);
  expect(r.headers['cache-control']).toBe('no-store');
  expect(r.body).toContain('Not sent yet');
});

test('a letter stored before the footer links were marked loses its unsubscribe link in the web version', () => {
  const letter = renderMailout({ markdown: 'Привет, {{name|друг}}!', subject: 'S' });
  const unmarked = {
    templates: {
      ...letter.templates,
      html: { segments: letter.templates.html.segments.map((x) => (typeof x === 'string' ? x.replace(/<!--\/?n:reader-links-->/g, '') : x)) },
    },
  };
  const html = webVersion(unmarked);
  expect(html).toContain('Привет, друг!');
  expect(html).not.toContain('Отписаться');
  expect(html).not.toContain('href=""');
});

test('a refused view link gets the notice page and the headers of the unsubscribe page', async () => {
  const refused = await viewLetter(deps(), { mailoutId: MAILOUT, sig: 'forged', ifNoneMatch: null });
  const unsubscribe = unsubscribePage('forged', { config: { unsubscribeSecret: CONFIG.unsubscribeSecret, listName: 'Пример' } });
  expect(refused.headers).toEqual(PAGE_HEADERS);
  expect(refused.body).toContain('<main data-state="invalid">');
  const frame = (html: string) => html.replace(/<main[\s\S]*<\/main>/, '');
  expect(frame(refused.body!)).toBe(frame(unsubscribe.html));
  const served = await viewLetter(deps(), { mailoutId: MAILOUT, sig: sig(MAILOUT), ifNoneMatch: null });
  const { 'cache-control': _c, etag: _e, ...security } = served.headers;
  const { 'cache-control': _n, ...expected } = PAGE_HEADERS;
  expect(security).toEqual(expected);
});
