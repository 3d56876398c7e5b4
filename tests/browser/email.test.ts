import type { Browser, BrowserContext, Page } from 'playwright-core';
import { personalise, renderMailout } from '../../lib/render';
import { unsubscribeUrl } from '../../lib/unsubscribe';
import { viewUrl } from '../../lib/view';
import {
  addSubscriber,
  DESKTOP,
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
 * A real email in Chromium: Markdown rendered by lib/render exactly as a send renders it
 * (FOOTER_ADDRESS and LIST_NAME from the configuration, lib/app.ts), personalised
 * with the subscriber's real unsubscribe link (lib/unsubscribe), opened as the HTML part a
 * mail client shows. Images come from a stand-in image host (page.route), the unsubscribe
 * link goes to api/unsubscribe.ts over real HTTP.
 */

const SUBJECT = 'Новости недели №12';
const PREHEADER = 'Новая рассылка, отписка в один клик и цифры недели';
const LONG_URL = 'https://example.com/a/very/long/path/that/does/not/break/easily/on/a/phone/screen?with=query&and=more-parameters-0123456789';

const RU_MARKDOWN = `Привет, {{name}}!

На этой неделе мы запустили **новую рассылку**. Подробности — [в нашем блоге](https://example.com/blog/novosti).

![Обложка выпуска: редакция за работой](https://images.example.com/cover.png "Обложка выпуска №12")

## Что нового

- Письма уходят быстрее
- Отписка в один клик ![значок](https://images.example.com/badge.png)
- Полная ссылка на отчёт: ${LONG_URL}

### Цифры недели

| Неделя | Письма | Доставлено | Открыто | Жалобы | Отписки | Отказы |
| --- | ---: | ---: | ---: | ---: | ---: | ---: |
| 12 | 10 000 | 9 950 | 4 200 | 1 | 12 | 38 |

> Цитата недели: «Пишите письма, а не посты».

\`\`\`
npm run send -- letters/2026-12-weekly-newsletter-final-version.md --dry-run --test
\`\`\`

С уважением,
редакция
`;

const EN_MARKDOWN = `Hello {{name}},

This week we launched a **new newsletter**. Read more [on our blog](https://example.com/blog/news).

![The team at work](https://images.example.com/cover.png)

Best wishes,
the editors
`;

let s: BrowserStack;
let subscriberId: string;
let cover: Buffer;
let badge: Buffer;

/** A PNG of the given size, drawn by the browser itself (no image files in the repository). */
async function drawPng(browser: Browser, width: number, height: number, label: string, color: string): Promise<Buffer> {
  const { context, page } = await newPage(browser, { viewport: { width, height } });
  try {
    await page.setContent(
      `<body style="margin:0;background:${color};display:flex;align-items:center;justify-content:center;height:100vh;font:bold ${Math.round(height / 6)}px sans-serif;color:#fff">${label}</body>`,
    );
    return await page.screenshot();
  } finally {
    await context.close();
  }
}

beforeAll(async () => {
  s = await startBrowserStack();
  subscriberId = await addSubscriber(s.t, 'anna@example.com', { name: 'Анна' });
  cover = await drawPng(s.browser, 1200, 630, 'Выпуск №12', '#2f6f5e');
  badge = await drawPng(s.browser, 64, 64, '✓', '#1a66c9');
});
afterAll(async () => {
  await s?.close();
});

const MAILOUT = '11111111-2222-4333-8444-555555555555';

/** The HTML part the subscriber receives, rendered as the send engine renders it. */
function letter(markdown: string, subject = SUBJECT, preheader?: string): { subject: string; html: string } {
  const rendered = renderMailout({
    markdown,
    subject,
    ...(preheader ? { preheader } : {}),
    ...(s.config.footerAddress ? { footerAddress: s.config.footerAddress } : {}),
    ...(s.config.listName ? { listName: s.config.listName } : {}),
    viewUrl: viewUrl(s.config, MAILOUT),
    imageSizes: { 'https://images.example.com/cover.png': { width: 1200, height: 630 }, 'https://images.example.com/badge.png': { width: 64, height: 64 } },
  });
  const copy = personalise(rendered, { unsubscribeUrl: unsubscribeUrl(s.config, subscriberId), name: 'Анна' });
  return { subject: copy.subject, html: copy.html };
}

async function openEmail(
  html: string,
  opts: Parameters<typeof newPage>[1] = {},
): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const opened = await newPage(s.browser, opts);
  await opened.context.route('https://images.example.com/**', (route) =>
    route.fulfill({ status: 200, contentType: 'image/png', body: route.request().url().endsWith('/badge.png') ? badge : cover }),
  );
  await opened.page.setContent(html, { waitUntil: 'load' });
  return opened;
}

test('a reader sees the letter: its greeting, headings, paragraphs, list, table, quote and links', async () => {
  const { html } = letter(RU_MARKDOWN, SUBJECT, PREHEADER);
  const { context, page, problems } = await openEmail(html);
  try {
    expect(await page.title()).toBe(SUBJECT);
    expect(await page.getAttribute('html', 'lang')).toBe('ru');

    const paragraphs = await page.locator('.n-card p').allInnerTexts();
    expect(paragraphs[0]).toBe('Привет, Анна!');
    expect(paragraphs[1]).toBe('На этой неделе мы запустили новую рассылку. Подробности — в нашем блоге.');
    expect(paragraphs).toContain('Обложка выпуска №12');
    expect(paragraphs.at(-1)).toBe('С уважением, редакция');
    expect(await page.getByRole('heading', { level: 2 }).allInnerTexts()).toEqual(['Что нового']);
    expect(await page.getByRole('heading', { level: 3 }).allInnerTexts()).toEqual(['Цифры недели']);
    expect((await page.locator('.n-card li').allInnerTexts()).map((t) => t.trim())).toEqual([
      'Письма уходят быстрее',
      'Отписка в один клик',
      `Полная ссылка на отчёт: ${LONG_URL}`,
    ]);
    expect(await page.getByRole('columnheader').allInnerTexts()).toEqual(['Неделя', 'Письма', 'Доставлено', 'Открыто', 'Жалобы', 'Отписки', 'Отказы']);
    expect(await page.getByRole('cell').allInnerTexts()).toEqual(['12', '10 000', '9 950', '4 200', '1', '12', '38']);
    expect(await visibleText(page, '.n-quote')).toBe('Цитата недели: «Пишите письма, а не посты».');
    expect(await visibleText(page, '.n-code')).toBe('npm run send -- letters/2026-12-weekly-newsletter-final-version.md --dry-run --test');

    const blog = page.getByRole('link', { name: 'в нашем блоге' });
    expect(await blog.isVisible()).toBe(true);
    expect(await blog.getAttribute('href')).toBe('https://example.com/blog/novosti');
    // No placeholder is left for the reader to see.
    expect(await page.locator('body').innerText()).not.toMatch(/\{\{|\}\}/);
    // The preheader is for the inbox list, not for the open letter.
    expect(await page.locator('body').innerText()).not.toContain(PREHEADER);
    expect(problems).toEqual([]);
  } finally {
    await context.close();
  }
});

test("the footer shows why the reader gets the letter, the sender's postal address and an unsubscribe link that is theirs", async () => {
  const { html } = letter(RU_MARKDOWN, SUBJECT, PREHEADER);
  const { context, page } = await openEmail(html, { viewport: PHONE });
  try {
    const footer = page.locator('.n-footer');
    expect(await footer.isVisible()).toBe(true);
    expect((await footer.innerText()).split('\n').map((l) => l.trim())).toEqual([
      `Вы получили это письмо как подписчик рассылки «${LIST_NAME}».`,
      'ООО «Пример», ул. Ленина, 1',
      '101000 Москва, Россия',
      'Открыть в браузере · Отписаться от рассылки',
    ]);
    const link = footer.getByRole('link', { name: 'Отписаться от рассылки' });
    expect(await link.isVisible()).toBe(true);
    expect(await link.getAttribute('href')).toBe(unsubscribeUrl(s.config, subscriberId));
  } finally {
    await context.close();
  }
});

test('every image has alt text, is loaded, and fits inside the letter', async () => {
  const { html } = letter(RU_MARKDOWN);
  const { context, page } = await openEmail(html, { viewport: PHONE });
  try {
    const images = await page.locator('img').evaluateAll((imgs) =>
      (imgs as HTMLImageElement[]).map((img) => ({
        src: img.getAttribute('src'),
        alt: img.getAttribute('alt'),
        loaded: img.complete && img.naturalWidth > 0,
        fits: img.getBoundingClientRect().right <= document.querySelector('.n-card')!.getBoundingClientRect().right,
      })),
    );
    expect(images).toEqual([
      { src: 'https://images.example.com/cover.png', alt: 'Обложка выпуска: редакция за работой', loaded: true, fits: true },
      { src: 'https://images.example.com/badge.png', alt: 'значок', loaded: true, fits: true },
    ]);
  } finally {
    await context.close();
  }
});

test('on a 375 px phone the letter fits the screen: no sideways scrolling, the column fills the width', async () => {
  const { html } = letter(RU_MARKDOWN, SUBJECT, PREHEADER);
  const { context, page } = await openEmail(html, { viewport: PHONE });
  try {
    await screenshot(page, 'email-ru-phone');
    const w = await widths(page);
    expect(w.viewport).toBe(PHONE.width);
    expect(w.scrollWidth).toBeLessThanOrEqual(PHONE.width);
    expect(w.bodyScrollWidth).toBeLessThanOrEqual(PHONE.width);
    const card = (await page.locator('.n-card').boundingBox())!;
    expect(card.x).toBeGreaterThanOrEqual(0);
    expect(card.x + card.width).toBeLessThanOrEqual(PHONE.width);
    expect(card.width).toBeGreaterThan(PHONE.width - 30);
    // Every element a reader could need to scroll to stays on screen (the table may scroll in its own box).
    const outside = await page.evaluate((limit) => {
      const out: string[] = [];
      for (const el of Array.from(document.querySelectorAll('.n-card *, .n-footer *'))) {
        if (el.closest('[style*="overflow-x:auto"]')) continue;
        const r = el.getBoundingClientRect();
        if (r.width > 0 && r.right > limit + 0.5) out.push(`${el.tagName.toLowerCase()} right=${Math.round(r.right)}`);
      }
      return out;
    }, PHONE.width);
    expect(outside).toEqual([]);
  } finally {
    await context.close();
  }
});

test('on a 1280 px desktop the letter is a centred column at most 600 px wide', async () => {
  const { html } = letter(RU_MARKDOWN, SUBJECT, PREHEADER);
  const { context, page } = await openEmail(html, { viewport: DESKTOP });
  try {
    await screenshot(page, 'email-ru-desktop');
    const w = await widths(page);
    expect(w.scrollWidth).toBeLessThanOrEqual(DESKTOP.width);
    const card = (await page.locator('.n-card').boundingBox())!;
    expect(card.width).toBeLessThanOrEqual(600);
    expect(card.width).toBeGreaterThan(560);
    expect(Math.abs(card.x - (DESKTOP.width - card.x - card.width))).toBeLessThanOrEqual(1);
    // The cover is shown at the column's width, not its own 1200 px.
    const cover = (await page.locator('img[src$="cover.png"]').boundingBox())!;
    expect(cover.width).toBeLessThanOrEqual(card.width);
    expect(cover.height).toBeGreaterThan(200);
  } finally {
    await context.close();
  }
});

/**
 * Words in the letter's table cells whose glyphs do not all sit on one line: a header read as
 * "Неде/ля" or a number as "10 00/0". A number with digit groups ("10 000") counts as one word.
 * Each word is a Range; a word on one line has all its boxes at one height.
 */
async function wordsBrokenInCells(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const broken: string[] = [];
    for (const cell of Array.from(document.querySelectorAll('.n-card th, .n-card td'))) {
      const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
      while (walker.nextNode()) {
        const node = walker.currentNode as Text;
        for (const m of node.data.matchAll(/\d[\d\s.,\u00a0\u202f]*\d|\S+/g)) {
          const range = document.createRange();
          range.setStart(node, m.index);
          range.setEnd(node, m.index + m[0].length);
          const lines = new Set(
            Array.from(range.getClientRects())
              .filter((r) => r.width > 0)
              .map((r) => Math.round(r.top)),
          );
          if (lines.size > 1) broken.push(`${m[0]} (${lines.size} lines)`);
        }
      }
    }
    return broken;
  });
}

/** The letter's data table and the box around it that scrolls sideways. */
async function tableScroll(page: Page) {
  return page.locator('table.n-table').evaluate((table) => {
    const wrap = table.parentElement!;
    const card = document.querySelector('.n-card')!.getBoundingClientRect();
    const box = wrap.getBoundingClientRect();
    return {
      overflowX: getComputedStyle(wrap).overflowX,
      scrollWidth: wrap.scrollWidth,
      clientWidth: wrap.clientWidth,
      insideCard: box.left >= card.left - 0.5 && box.right <= card.right + 0.5,
    };
  });
}

test('table cells never break a word: on a desktop the 7-column table fits whole; on a phone it scrolls in its own box, not the page', async () => {
  const { html } = letter(RU_MARKDOWN, SUBJECT, PREHEADER);
  const seen: Record<string, unknown> = {};
  for (const [name, viewport] of [['desktop', DESKTOP], ['phone', PHONE]] as const) {
    const { context, page } = await openEmail(html, { viewport });
    try {
      const broken = await wordsBrokenInCells(page);
      const t = await tableScroll(page);
      const w = await widths(page);
      // Scrolling the box as far as it goes brings the last column into view.
      const lastColumnReachable = await page.locator('table.n-table').evaluate((table) => {
        const wrap = table.parentElement!;
        wrap.scrollLeft = wrap.scrollWidth;
        return table.querySelector('tr:last-child td:last-child')!.getBoundingClientRect().right <= wrap.getBoundingClientRect().right + 0.5;
      });
      seen[name] = {
        broken,
        overflowX: t.overflowX,
        tableInsideCard: t.insideCard,
        tableScrollsInItsBox: t.scrollWidth > t.clientWidth,
        pageScrollsSideways: w.scrollWidth > viewport.width || w.bodyScrollWidth > viewport.width,
        lastColumnReachable,
      };
    } finally {
      await context.close();
    }
  }
  const common = { broken: [], overflowX: 'auto', tableInsideCard: true, pageScrollsSideways: false, lastColumnReachable: true };
  expect(seen).toEqual({
    // Room enough: the table is laid out whole, nothing to scroll.
    desktop: { ...common, tableScrollsInItsBox: false },
    // Wider than the column: the reader swipes the table, and only the table.
    phone: { ...common, tableScrollsInItsBox: true },
  });
});

test('in dark mode and in light mode every line of text has enough contrast to read (WCAG AA, 4.5:1)', async () => {
  const { html } = letter(RU_MARKDOWN, SUBJECT, PREHEADER);
  for (const colorScheme of ['light', 'dark'] as const) {
    const { context, page } = await openEmail(html, { viewport: PHONE, colorScheme });
    try {
      if (colorScheme === 'dark') await screenshot(page, 'email-ru-phone-dark');
      const texts = await page.evaluate(() => {
        const parse = (c: string) => {
          const p = (/rgba?\(([^)]+)\)/.exec(c)?.[1] ?? '0,0,0,0').split(/[\s,/]+/).filter(Boolean).map(Number);
          return { r: p[0]!, g: p[1]!, b: p[2]!, a: p.length > 3 ? p[3]! : 1 };
        };
        const lum = (c: { r: number; g: number; b: number }) => {
          const f = (v: number) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
          return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
        };
        const background = (el: Element | null) => {
          for (let e = el; e; e = e.parentElement) {
            const c = parse(getComputedStyle(e).backgroundColor);
            if (c.a > 0) return c;
          }
          return { r: 255, g: 255, b: 255, a: 1 };
        };
        const out: { text: string; ratio: number }[] = [];
        const seen = new Set<Element>();
        const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        while (walker.nextNode()) {
          const node = walker.currentNode;
          const el = node.parentElement;
          if (!el || !node.textContent?.trim() || seen.has(el)) continue;
          seen.add(el);
          if (!el.checkVisibility({ opacityProperty: true, visibilityProperty: true })) continue;
          const a = lum(parse(getComputedStyle(el).color));
          const b = lum(background(el));
          out.push({ text: node.textContent.trim().slice(0, 40), ratio: Math.round(((Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)) * 100) / 100 });
        }
        return out;
      });
      expect(texts.length).toBeGreaterThan(15);
      expect({ colorScheme, lowContrast: texts.filter((t) => t.ratio < 4.5) }).toEqual({ colorScheme, lowContrast: [] });
    } finally {
      await context.close();
    }
  }
});

test("following the email's unsubscribe link opens that reader's unsubscribe page, and its button unsubscribes them", async () => {
  const { html } = letter(RU_MARKDOWN, SUBJECT, PREHEADER);
  const { context, page, problems } = await openEmail(html, { viewport: PHONE });
  try {
    expect(await subscriberStatus(s.t, subscriberId)).toBe('active');
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().startsWith(`${s.config.appBaseUrl}/api/unsubscribe`)),
      page.locator('.n-footer').getByRole('link', { name: 'Отписаться от рассылки' }).click(),
    ]);
    await page.waitForLoadState('load');
    expect(response.status()).toBe(200);
    expect(page.url()).toBe(unsubscribeUrl(s.config, subscriberId));
    expect(await visibleText(page, 'h1')).toBe('Отписка · Unsubscribe');
    expect(await subscriberStatus(s.t, subscriberId)).toBe('active');

    await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST'),
      page.getByRole('button', { name: 'Отписаться · Unsubscribe' }).click(),
    ]);
    await page.waitForLoadState('load');
    expect(await visibleText(page, 'h1')).toBe('Вы отписались · Unsubscribed');
    expect(await subscriberStatus(s.t, subscriberId)).toBe('unsubscribed');
    await screenshot(page, 'email-link-unsubscribed');
    expect(problems).toEqual([]);
  } finally {
    await context.close();
    await s.t.pool.query(`update subscribers set status = 'active' where id = $1`, [subscriberId]);
  }
});

test('an English letter speaks English: lang="en", its own words in the footer, and the same unsubscribe link', async () => {
  const { html } = letter(EN_MARKDOWN, 'News of the week');
  const { context, page } = await openEmail(html, { viewport: PHONE });
  try {
    await screenshot(page, 'email-en-phone');
    expect(await page.getAttribute('html', 'lang')).toBe('en');
    expect(await page.locator('.n-card p').first().innerText()).toBe('Hello Анна,');
    expect(await page.getByRole('link', { name: 'on our blog' }).getAttribute('href')).toBe('https://example.com/blog/news');
    expect(await page.getByRole('img', { name: 'The team at work' }).isVisible()).toBe(true);
    const footer = page.locator('.n-footer');
    expect((await footer.innerText()).split('\n').map((l) => l.trim())).toEqual([
      `You are receiving this email as a subscriber to ${LIST_NAME}.`,
      'ООО «Пример», ул. Ленина, 1',
      '101000 Москва, Россия',
      'View in browser · Unsubscribe',
    ]);
    expect(await footer.getByRole('link', { name: 'Unsubscribe' }).getAttribute('href')).toBe(unsubscribeUrl(s.config, subscriberId));
    const w = await widths(page);
    expect(w.scrollWidth).toBeLessThanOrEqual(PHONE.width);
  } finally {
    await context.close();
  }
});

test('a column the author aligned right (prices, counts) is right-aligned on screen, a left one left, a centred one centred', async () => {
  const { html } = letter(
    'Цены:\n\n| Тариф | Цена | Срок |\n| :--- | ---: | :---: |\n| Базовый | 100 ₽ | месяц |\n| Профессиональный | 12 000 ₽ | год |\n\nВот и всё.',
    'Цены',
  );
  const { context, page } = await openEmail(html, { viewport: DESKTOP });
  try {
    await screenshot(page, 'email-table-alignment');
    const columns = await page.locator('table.n-table tr').evaluateAll((rows) =>
      rows.map((tr) =>
        Array.from(tr.children).map((cell) => {
          // Where the text really sits in its cell: the gap on its left against the gap on its right.
          const box = cell.getBoundingClientRect();
          const range = document.createRange();
          range.selectNodeContents(cell);
          const text = range.getBoundingClientRect();
          const left = Math.round(text.left - box.left);
          const right = Math.round(box.right - text.right);
          return { align: getComputedStyle(cell).textAlign, sits: Math.abs(left - right) <= 2 ? 'centre' : left < right ? 'left' : 'right' };
        }),
      ),
    );
    for (const row of columns) {
      expect(row).toEqual([
        { align: 'left', sits: 'left' },
        { align: 'right', sits: 'right' },
        { align: 'center', sits: 'centre' },
      ]);
    }
  } finally {
    await context.close();
  }
});

/** The space the reader sees between the card's edges and its first and last block. */
async function cardGaps(page: Page): Promise<{ above: number; below: number }> {
  return page.locator('.n-card').evaluate((card) => {
    const box = card.getBoundingClientRect();
    return {
      above: Math.round(card.firstElementChild!.getBoundingClientRect().top - box.top),
      below: Math.round(box.bottom - card.lastElementChild!.getBoundingClientRect().bottom),
    };
  });
}

test('the space above the first line and under the last is the same whether the letter opens with a heading or a paragraph', async () => {
  const gaps: Record<string, { above: number; below: number }> = {};
  for (const [name, markdown] of [
    ['heading first', '# Новости недели\n\nПервый абзац.\n\nПоследний абзац.'],
    ['paragraph first', 'Первый абзац.\n\n## Подзаголовок\n\nПоследний абзац.'],
    ['list last', 'Первый абзац.\n\n- один\n- два'],
  ] as const) {
    const { html } = letter(markdown, 'Отступы');
    const { context, page } = await openEmail(html, { viewport: DESKTOP });
    try {
      gaps[name] = await cardGaps(page);
    } finally {
      await context.close();
    }
  }
  // The card's padding (32 px) alone, at the top and at the bottom, in every case.
  expect(gaps).toEqual({
    'heading first': { above: 32, below: 32 },
    'paragraph first': { above: 32, below: 32 },
    'list last': { above: 32, below: 32 },
  });
});
