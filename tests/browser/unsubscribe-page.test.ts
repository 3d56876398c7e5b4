import type { Page, Response } from 'playwright-core';
import { testUnsubscribeUrl, unsubscribeToken, unsubscribeUrl } from '../../lib/unsubscribe';
import {
  addSubscriber,
  newPage,
  PHONE,
  screenshot,
  startBrowserStack,
  subscriberStatus,
  visibleText,
  widths,
  LIST_NAME,
  type BrowserStack,
} from './helpers';

/**
 * The unsubscribe page as a reader meets it: the link from an email opened in Chromium,
 * served by api/unsubscribe.ts over real HTTP, backed by a real Postgres.
 */

let s: BrowserStack;

beforeAll(async () => {
  s = await startBrowserStack();
});
afterAll(async () => {
  await s?.close();
});

/** Press the page's one button and wait for the page the POST answers with. */
async function press(page: Page, name: RegExp): Promise<Response> {
  const button = page.getByRole('button', { name });
  expect(await button.isVisible()).toBe(true);
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && r.url().includes('/api/unsubscribe')),
    button.click(),
  ]);
  await page.waitForLoadState('load');
  return response;
}

test('the link from an email shows, on a phone, a page in Russian and English that names the list and offers one Unsubscribe button, and changes nothing', async () => {
  const id = await addSubscriber(s.t, 'anna@example.com', { name: 'Анна' });
  const { context, page, problems } = await newPage(s.browser, { viewport: PHONE });
  try {
    const response = await page.goto(unsubscribeUrl(s.config, id));
    expect(response!.status()).toBe(200);

    expect(await page.title()).toBe('Отписка · Unsubscribe');
    expect(await visibleText(page, 'h1')).toBe('Отписка · Unsubscribe');
    expect(await visibleText(page, 'p[lang="ru"]')).toBe(`Отписаться от рассылки «${LIST_NAME}»? Письма больше приходить не будут.`);
    expect(await visibleText(page, 'p[lang="en"]')).toBe(`Unsubscribe from ${LIST_NAME}? You will receive no more emails from it.`);
    const buttons = page.getByRole('button');
    expect(await buttons.count()).toBe(1);
    expect(await buttons.innerText()).toBe('Отписаться · Unsubscribe');
    // The button is on screen without scrolling, and nothing is cut off sideways.
    expect(await buttons.isVisible()).toBe(true);
    const box = (await buttons.boundingBox())!;
    expect(box.x).toBeGreaterThanOrEqual(0);
    expect(box.x + box.width).toBeLessThanOrEqual(PHONE.width);
    expect(box.y + box.height).toBeLessThanOrEqual(PHONE.height);
    const w = await widths(page);
    expect(w.scrollWidth).toBeLessThanOrEqual(w.viewport);
    await screenshot(page, 'unsubscribe-confirm-phone');

    // Opening the page (as a mail scanner would) unsubscribes nobody.
    expect(await subscriberStatus(s.t, id)).toBe('active');
    expect(problems).toEqual([]);
  } finally {
    await context.close();
  }
});

test('on a 375 px phone the card keeps clear of the screen edges (at least 8 px each side)', async () => {
  const id = await addSubscriber(s.t, 'dina@example.com');
  const { context, page } = await newPage(s.browser, { viewport: PHONE });
  try {
    for (const link of [unsubscribeUrl(s.config, id), `${s.config.appBaseUrl}/api/unsubscribe`]) {
      await page.goto(link);
      const card = (await page.locator('main').boundingBox())!;
      const gaps = { url: link, left: Math.round(card.x), right: Math.round(PHONE.width - card.x - card.width) };
      expect(gaps.left).toBeGreaterThanOrEqual(8);
      expect(gaps.right).toBeGreaterThanOrEqual(8);
      // ...and the card still uses the screen rather than shrinking to a strip.
      expect(card.width).toBeGreaterThan(PHONE.width - 60);
      const w = await widths(page);
      expect(w.scrollWidth).toBeLessThanOrEqual(w.viewport);
    }
  } finally {
    await context.close();
  }
});

test('pressing Unsubscribe unsubscribes the reader and says so; Subscribe again brings them back', async () => {
  const id = await addSubscriber(s.t, 'boris@example.com');
  const { context, page, problems } = await newPage(s.browser);
  try {
    await page.goto(unsubscribeUrl(s.config, id));

    const unsubscribed = await press(page, /^Отписаться · Unsubscribe$/);
    expect(unsubscribed.status()).toBe(200);
    expect(await visibleText(page, 'h1')).toBe('Вы отписались · Unsubscribed');
    expect(await visibleText(page, 'p[lang="ru"]')).toBe(`Вы отписались от рассылки «${LIST_NAME}». Передумали? Можно подписаться снова.`);
    expect(await visibleText(page, 'p[lang="en"]')).toBe(
      `You have been unsubscribed from ${LIST_NAME}. Changed your mind? You can subscribe again.`,
    );
    expect(await subscriberStatus(s.t, id)).toBe('unsubscribed');
    await screenshot(page, 'unsubscribe-done');

    const resubscribed = await press(page, /^Подписаться снова · Subscribe again$/);
    expect(resubscribed.status()).toBe(200);
    expect(await visibleText(page, 'h1')).toBe('Вы снова подписаны · Subscribed again');
    expect(await visibleText(page, 'p[lang="en"]')).toBe(`You are subscribed to ${LIST_NAME} again.`);
    expect(await subscriberStatus(s.t, id)).toBe('active');
    await screenshot(page, 'unsubscribe-resubscribed');

    // ...and the page lets them change their mind once more.
    await press(page, /^Отписаться · Unsubscribe$/);
    expect(await visibleText(page, 'h1')).toBe('Вы отписались · Unsubscribed');
    expect(await subscriberStatus(s.t, id)).toBe('unsubscribed');
    expect(problems).toEqual([]);
  } finally {
    await context.close();
  }
});

test('the page reads the same whatever language the browser prefers: Russian first, English beside it', async () => {
  const id = await addSubscriber(s.t, 'vera@example.com');
  for (const locale of ['ru-RU', 'en-US']) {
    const { context, page } = await newPage(s.browser, { locale });
    try {
      await page.goto(unsubscribeUrl(s.config, id));
      expect(await page.getAttribute('html', 'lang')).toBe('ru');
      expect(await visibleText(page, 'main')).toContain(`Отписаться от рассылки «${LIST_NAME}»?`);
      expect(await visibleText(page, 'main')).toContain(`Unsubscribe from ${LIST_NAME}?`);
    } finally {
      await context.close();
    }
  }
});

test('a forged, damaged or missing link shows a clear "Invalid link" page with a 400, offers no button and changes nothing', async () => {
  const id = await addSubscriber(s.t, 'gleb@example.com');
  const base = `${s.config.appBaseUrl}/api/unsubscribe`;
  const good = unsubscribeToken(s.config.unsubscribeSecret, id);
  const links = {
    forged: `${base}?token=${unsubscribeToken('someone-elses-secret-0123456789abcdef', id)}`,
    truncated: `${base}?token=${good.slice(0, -6)}`,
    altered: `${base}?token=${good.slice(0, 3)}${good[3] === 'A' ? 'B' : 'A'}${good.slice(4)}`,
    missing: base,
  };
  const { context, page, problems } = await newPage(s.browser, { viewport: PHONE });
  try {
    for (const [kind, link] of Object.entries(links)) {
      const response = await page.goto(link);
      expect({ kind, status: response!.status() }).toEqual({ kind, status: 400 });
      expect(await page.title()).toBe('Неверная ссылка · Invalid link');
      expect(await visibleText(page, 'h1')).toBe('Неверная ссылка · Invalid link');
      expect(await visibleText(page, 'p[lang="ru"]')).toBe('Ссылка повреждена или неполна. Откройте её из письма ещё раз, целиком.');
      expect(await visibleText(page, 'p[lang="en"]')).toBe('This link is damaged or incomplete. Open it again from the email, in full.');
      expect(await page.getByRole('button').count()).toBe(0);
      if (kind === 'forged') await screenshot(page, 'unsubscribe-invalid-link');
    }
    // A forged POST (a script, not a person) gets the same page and changes nothing either.
    const post = await page.request.post(links.forged, { form: { action: 'unsubscribe' } });
    expect(post.status()).toBe(400);
    expect(await post.text()).toContain('Invalid link');
    expect(await subscriberStatus(s.t, id)).toBe('active');
    // The 400 is the page's own status: the browser logs it as a failed resource load.
    expect(problems.filter((p) => !/status of 400/.test(p))).toEqual([]);
  } finally {
    await context.close();
  }
});

test('a bounced address can still unsubscribe, but is told plainly that it cannot subscribe again', async () => {
  const id = await addSubscriber(s.t, 'dead@example.com', { status: 'bounced' });
  const { context, page } = await newPage(s.browser);
  try {
    await page.goto(unsubscribeUrl(s.config, id));
    await press(page, /^Отписаться · Unsubscribe$/);
    expect(await visibleText(page, 'h1')).toBe('Вы отписались · Unsubscribed');
    await press(page, /^Подписаться снова · Subscribe again$/);
    expect(await visibleText(page, 'h1')).toBe('Подписка невозможна · Cannot subscribe');
    expect(await visibleText(page, 'p[lang="en"]')).toBe('Emails to this address bounce, so it cannot be subscribed again.');
    expect(await page.getByRole('button').count()).toBe(0);
    expect(await subscriberStatus(s.t, id)).toBe('bounced');
  } finally {
    await context.close();
  }
});

test("a test send's unsubscribe link shows the same pages but leaves the subscriber list alone", async () => {
  const id = await addSubscriber(s.t, 'editor@example.com');
  const { context, page } = await newPage(s.browser);
  try {
    await page.goto(testUnsubscribeUrl(s.config, 'editor@example.com', 'page-1'));
    expect(await visibleText(page, 'h1')).toBe('Отписка · Unsubscribe');
    await press(page, /^Отписаться · Unsubscribe$/);
    expect(await visibleText(page, 'h1')).toBe('Вы отписались · Unsubscribed');
    expect(await subscriberStatus(s.t, id)).toBe('active');
  } finally {
    await context.close();
  }
});
