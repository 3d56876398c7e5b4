import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLedger } from '../../lib/db/ledger';
import { getDb } from '../../lib/db';
import { personalise } from '../../lib/render';
import { loadLetter } from '../../lib/letter';
import { letterOptionsFromConfig } from '../../lib/app';
import { unsubscribeUrl } from '../../lib/unsubscribe';
import { viewUrl } from '../../lib/view';
import { addSubscriber, newPage, PHONE, screenshot, startBrowserStack, visibleText, widths, type BrowserStack } from './helpers';

/**
 * "View in the browser": the link in a live letter opens the letter the mailout stored at
 * its claim, served by api/view.ts over real HTTP, in Chromium. Nobody's data is on the
 * page; it may be cached; a forged or unknown link shows a page that says why.
 */

const MAILOUT = '22222222-3333-4444-8555-666666666666';
let s: BrowserStack;
let dir: string;
let subscriberId: string;
let email: string;

beforeAll(async () => {
  s = await startBrowserStack();
  subscriberId = await addSubscriber(s.t, 'anna@example.com', { name: 'Анна' });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'view-'));
  const file = path.join(dir, 'weekly.md');
  fs.writeFileSync(
    file,
    `---\nid: ${MAILOUT}\nsubject: Новости недели\npreheader: Коротко о главном\n---\n# Привет, {{name|друг}}!\n\nНа этой неделе мы запустили **новую рассылку**. Подробности — [в блоге](https://example.com/blog).\n\n| Тариф | Цена |\n| :--- | ---: |\n| Про | 2 000 ₽ |\n`,
  );
  // The letter as a live send stores it at the claim (lib/send: loadLetter, then claim_mailout).
  const loaded = await loadLetter({ kind: 'file', path: file }, letterOptionsFromConfig(s.config, null));
  expect(loaded.mailoutId).toBe(MAILOUT);
  const claim = await createLedger(getDb(s.config)).claim(MAILOUT, { subject: loaded.letter.subject, leaseSeconds: 60, content: loaded.letter });
  expect(claim.outcome).toBe('claimed');
  email = personalise(loaded.letter, { unsubscribeUrl: unsubscribeUrl(s.config, subscriberId), name: 'Анна' }).html;
});
afterAll(async () => {
  fs.rmSync(dir, { recursive: true, force: true });
  await s?.close();
});

test("the letter's 'view in browser' link opens its web version: the same letter, with nobody's name or unsubscribe link in it", async () => {
  const { context, page, problems } = await newPage(s.browser, { viewport: PHONE });
  try {
    await page.setContent(email, { waitUntil: 'load' });
    expect(await page.locator('.n-card h1').innerText()).toBe('Привет, Анна!');
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().startsWith(`${s.config.appBaseUrl}/api/view`)),
      page.locator('.n-footer').getByRole('link', { name: 'Открыть в браузере' }).click(),
    ]);
    await page.waitForLoadState('load');
    expect(page.url()).toBe(viewUrl(s.config, MAILOUT));
    expect(response.status()).toBe(200);
    const headers = response.headers();
    expect(headers['cache-control']).toMatch(/^public, max-age=\d+/);
    expect(headers.etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    expect(headers['content-type']).toBe('text/html; charset=utf-8');
    expect(headers['set-cookie']).toBeUndefined();
    await screenshot(page, 'letter-web-version-phone');

    expect(await page.title()).toBe('Новости недели');
    expect(await page.locator('.n-card h1').innerText()).toBe('Привет, друг!');
    expect(await page.locator('.n-card p').first().innerText()).toBe('На этой неделе мы запустили новую рассылку. Подробности — в блоге.');
    expect(await page.getByRole('cell', { name: '2 000 ₽' }).evaluate((c) => getComputedStyle(c).textAlign)).toBe('right');
    const footer = await visibleText(page, '.n-footer');
    expect(footer).toContain('Вы получили это письмо как подписчик рассылки');
    expect(footer).not.toContain('Отписаться');
    expect(footer).not.toContain('Открыть в браузере');
    const source = await page.content();
    expect(source).not.toContain('Анна');
    expect(source).not.toContain('/api/unsubscribe');
    expect(source).not.toMatch(/\{\{|\}\}/);
    expect((await widths(page)).scrollWidth).toBeLessThanOrEqual(PHONE.width);
    expect(problems).toEqual([]);
  } finally {
    await context.close();
  }
});

test('the web version is cache-friendly: the same ETag again is a 304 with no body', async () => {
  const url = viewUrl(s.config, MAILOUT);
  const first = await fetch(url);
  const etag = first.headers.get('etag')!;
  expect(first.status).toBe(200);
  const again = await fetch(url, { headers: { 'if-none-match': etag } });
  expect(again.status).toBe(304);
  expect(await again.text()).toBe('');
  expect(again.headers.get('etag')).toBe(etag);
  expect(again.headers.get('cache-control')).toBe(first.headers.get('cache-control'));
  const head = await fetch(url, { method: 'HEAD' });
  expect(head.status).toBe(200);
  expect(head.headers.get('etag')).toBe(etag);
});

test('a forged, cut or missing signature shows an "invalid link" page, and a mailout not sent yet says so; neither is cached', async () => {
  const good = new URL(viewUrl(s.config, MAILOUT));
  const sig = good.searchParams.get('sig')!;
  const forged = new URL(good);
  forged.searchParams.set('sig', `${sig.slice(0, -1)}${sig.endsWith('A') ? 'B' : 'A'}`);
  const otherMailout = new URL(good);
  otherMailout.searchParams.set('m', '33333333-4444-4555-8666-777777777777');
  const cut = new URL(good);
  cut.searchParams.delete('sig');

  const { context, page } = await newPage(s.browser, { viewport: PHONE });
  try {
    for (const url of [forged, otherMailout, cut]) {
      const response = await page.goto(url.toString());
      expect(response!.status()).toBe(403);
      expect(response!.headers()['cache-control']).toBe('no-store');
      expect(await visibleText(page, 'h1')).toBe('Неверная ссылка · Invalid link');
    }
    const notSent = new URL(viewUrl(s.config, '33333333-4444-4555-8666-777777777777'));
    const response = await page.goto(notSent.toString());
    expect(response!.status()).toBe(404);
    expect(response!.headers()['cache-control']).toBe('no-store');
    expect(await visibleText(page, 'h1')).toBe('Письмо ещё не отправлено · Not sent yet');
    await screenshot(page, 'letter-web-version-not-sent');
  } finally {
    await context.close();
  }
});
