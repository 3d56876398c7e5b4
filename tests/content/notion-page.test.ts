import { readMailoutPage } from '../../lib/notion/read';
import { personalise } from '../../lib/render';
import { pageContent, renderLetter } from '../../lib/letter';
import { createSupabaseStorage } from '../../lib/images';
import { clearRehostCache } from '../../lib/images';
import { isAppError } from '../../lib/errors';
import { block, checkboxProperty, makePage, richText, richTextProperty, startFakeNotion, titleProperty, type FakeNotion } from '../../scripts/fakes/notion';
import { buildEveryBlockPage, buildLongPage, EXTERNAL_IMAGE_URL, minimumCalls, NOTION_FILE_URL } from './fixtures';
import { PNG_1x1, redirectingFetch, startFakeStorage, type FakeStorage } from './fake-storage';
import { expectGolden, fakeClient, TOKEN, urlsIn } from './helpers';

let fake: FakeNotion;
let storage: FakeStorage;

beforeEach(async () => {
  fake = await startFakeNotion({ token: TOKEN });
  storage = await startFakeStorage({ serviceKey: 'service-role-key-for-tests', bucket: 'mailout-images' });
  clearRehostCache();
});
afterEach(async () => {
  await fake.close();
  await storage.close();
});

function storageClient() {
  return createSupabaseStorage({ url: storage.url, serviceRoleKey: 'service-role-key-for-tests', bucket: 'mailout-images', fetch: redirectingFetch(storage.url) });
}

describe('a Notion page with every supported block type', () => {
  it('reads subject, preheader, test mode and status from the page properties', async () => {
    const built = buildEveryBlockPage(fake);
    const page = await readMailoutPage(fakeClient(fake), built.pageId);
    expect(page.pageId).toBe(built.pageId);
    expect(page.subject).toBe('Новости ноября 🎉 — что нового');
    expect(page.preheader).toBe('Коротко о главном за месяц');
    expect(page.test).toBe(true);
    expect(page.status).toBe('Ready');
    expect(page.notionFileUrls).toEqual([NOTION_FILE_URL]);
  });

  it('renders to the golden Markdown, HTML and text', async () => {
    const built = buildEveryBlockPage(fake);
    const page = await readMailoutPage(fakeClient(fake), built.pageId);
    storage.serveFile('/files/7b8b0713-dbd4-4962-b38b-955b6c49a573/b2a2e4b4-1d9e-4c1f-9d0b-2c8f0c7d9e11/photo.png', PNG_1x1, 'image/png');
    const content = await renderLetter(pageContent(page), { storage: storageClient(), fetch: redirectingFetch(storage.url), footerAddress: 'ООО «Пример», Москва, ул. Тверская, 1', listName: 'Новости' });
    const copy = personalise(content.letter, { unsubscribeUrl: 'https://mail.example.com/api/unsubscribe?token=abc.def', name: 'Анна' });
    const stable = (s: string) => s.split(storage.url).join('https://storage.test');
    expectGolden('every-block.md', page.markdown);
    expectGolden('every-block.html', stable(copy.html));
    expectGolden('every-block.txt', stable(copy.text));
  });

  it('shows every block type in the HTML and the text part', async () => {
    const built = buildEveryBlockPage(fake);
    const page = await readMailoutPage(fakeClient(fake), built.pageId);
    storage.serveFile('/files/7b8b0713-dbd4-4962-b38b-955b6c49a573/b2a2e4b4-1d9e-4c1f-9d0b-2c8f0c7d9e11/photo.png', PNG_1x1, 'image/png');
    const { letter: rendered } = await renderLetter(pageContent(page), { storage: storageClient(), fetch: redirectingFetch(storage.url) });
    const { html, text } = personalise(rendered, { unsubscribeUrl: 'https://mail.example.com/u?t=1', name: 'Анна' });

    // headings 1–3
    expect(html).toMatch(/<h1 [^>]*>Новости проекта<\/h1>/);
    expect(html).toMatch(/<h2 [^>]*><span style="color:#448361">Lacinato kale<\/span><\/h2>/);
    expect(html).toMatch(/<h3 [^>]*>Section three in English<\/h3>/);
    // every annotation and links
    expect(html).toContain('<strong>жирный</strong>');
    expect(html).toContain('<em>курсив</em>');
    expect(html).toContain('<s>зачёркнутый</s>');
    expect(html).toContain('<u>подчёркнутый</u>');
    expect(html).toMatch(/<code class="n-codespan"[^>]*>const x = 1<\/code>/);
    expect(html).toContain('<span style="color:#d44c47">красный</span>');
    expect(html).toMatch(/<span style="background-color:#fbf3db;color:#1f1f1f">с фоном<\/span>/);
    expect(html).toContain('href="https://example.com/%D0%BF%D1%83%D1%82%D1%8C?q=1&amp;lang=ru"');
    // A mention of a page not shared to the web is its text: recipients cannot open a private Notion link (issue 25).
    expect(html).not.toContain('3c612f56fdd04a30a4d6bda7d7426309');
    expect(html).toContain('План на год');
    expect(html).toContain('href="https://www.notion.so/0b2f5f0e3c8f4a1e8f1f3b2a1c0d9e8f"');
    // what the user typed stays text
    expect(html).toContain('2*3*4 = 24, &lt;b&gt;не тег&lt;/b&gt;, snake_case_name, # не заголовок.');
    // lists, nested three levels; numbered; to-do
    expect(html).toMatch(/Первый пункт<ul[^>]*>\s*<li[^>]*>Второй уровень<ul[^>]*>\s*<li[^>]*>Третий уровень<\/li>/);
    expect(html).toMatch(/<ol[^>]*>\s*<li[^>]*>Шаг один<ol[^>]*>\s*<li[^>]*>Подшаг<\/li>/);
    expect(html).toContain('☑\u00a0Сделано');
    expect(html).toContain('☐\u00a0Не сделано');
    // quote, callout (with its child), toggle rendered open
    expect(html).toMatch(/<div class="n-quote"[^>]*><p[^>]*>Цитата великого человека.<\/p>/);
    expect(html).toMatch(/💡 Важно:[\s\S]*Текст внутри выноски\./);
    expect(html).toContain('<strong>Подробности (раскрыть)</strong>');
    expect(html).toContain('Скрытый абзац внутри переключателя.');
    expect(html).toMatch(/<li[^>]*>Пункт внутри переключателя<\/li>/);
    // code, divider, images with captions, table, columns stacked, bookmark, link preview, equation
    expect(html).toContain('<code>const greeting = `привет`;\nconsole.log(greeting &lt; 2);</code>');
    expect(html).toMatch(/<hr /);
    expect(html).toContain(`src="${EXTERNAL_IMAGE_URL}"`);
    expect(html).toMatch(/alt="Закат над морем"[^>]*\/?><p class="n-muted"[^>]*>Закат над морем<\/p>/);
    expect(html).toMatch(new RegExp(`src="${storage.url}/storage/v1/object/public/mailout-images/mailout-images/[0-9a-f]{64}\\.png"`));
    expect(html).toMatch(/<th [^>]*>Тариф<\/th><th [^>]*>Цена<\/th>/);
    expect(html).toMatch(/<td [^>]*><strong>Про<\/strong><\/td><td [^>]*>200 ₽ \| в месяц<\/td>/);
    expect(html.indexOf('Левая колонка')).toBeLessThan(html.indexOf('Правая колонка'));
    expect(html).toMatch(/<a href="https:\/\/blog.example.com\/post"[^>]*>Наш блог<\/a>/);
    expect(html).toMatch(/<a href="https:\/\/github.com\/makenotion\/notion-sdk-js\/pull\/1"/);
    expect(html).toContain('e^{i\\pi} + 1 = 0');
    expect(html).toContain('Привет, Анна!');
    expect(html).toContain('Конец письма.');

    // the text part reads well
    expect(text).toContain('Новости проекта\n===============');
    expect(text).toContain('Lacinato kale\n-------------');
    expect(text).toContain('ссылка (https://example.com/путь?q=1&lang=ru)');
    expect(text).toContain('- Первый пункт\n  - Второй уровень\n    - Третий уровень\n- Второй пункт');
    expect(text).toContain('1. Шаг один\n   1. Подшаг\n2. Шаг два');
    expect(text).toContain('[x] Сделано\n[ ] Не сделано');
    expect(text).toContain('> Цитата великого человека.');
    expect(text).toContain('Наш блог (https://blog.example.com/post)');
    expect(text).toContain('[Изображение: Закат над морем]');
    expect(text).toContain('Тариф | Цена');
    expect(text).toContain('2*3*4 = 24, <b>не тег</b>, snake_case_name'); // typed by the user, kept as typed
    expect(text).not.toMatch(/<(strong|em|s|u|span|code|a|p|div)[ >]/i);
    expect(text).not.toMatch(/\\[*_.#-]/);
  });

  it('skips and reports unsupported blocks without failing the render', async () => {
    const built = buildEveryBlockPage(fake);
    const page = await readMailoutPage(fakeClient(fake), built.pageId);
    expect(page.warnings).toEqual([
      'Skipped a block the Notion API does not expose (type "unsupported")',
      'Skipped the database "Задачи" (databases cannot be shown in an email)',
      'Skipped a breadcrumb block (it has no meaning in an email)',
    ]);
    expect(page.markdown).toContain('Конец письма');
  });

  it('leaves no Notion-hosted URL, no relative link and no script in any output', async () => {
    const built = buildEveryBlockPage(fake);
    const page = await readMailoutPage(fakeClient(fake), built.pageId);
    storage.serveFile('/files/7b8b0713-dbd4-4962-b38b-955b6c49a573/b2a2e4b4-1d9e-4c1f-9d0b-2c8f0c7d9e11/photo.png', PNG_1x1, 'image/png');
    const { letter: rendered } = await renderLetter(pageContent(page), { storage: storageClient(), fetch: redirectingFetch(storage.url) });
    const { html, text, subject } = personalise(rendered, { unsubscribeUrl: 'https://mail.example.com/u?t=1' });
    for (const out of [html, text, subject]) {
      expect(out).not.toContain('prod-files-secure');
      expect(out).not.toContain('secure.notion-static.com');
      expect(out).not.toContain('X-Amz-Signature');
    }
    const { hrefs, srcs } = urlsIn(html);
    expect(hrefs.length).toBeGreaterThan(5);
    for (const h of hrefs) expect(h).toMatch(/^(https:\/\/|mailto:)/);
    for (const s of srcs) expect(s).toMatch(/^https?:\/\//);
    expect(html).not.toMatch(/<script|<iframe|<form|\son[a-z]+=/i);
  });

  it('refuses a page with Notion-hosted images when no storage is configured', async () => {
    const built = buildEveryBlockPage(fake);
    const page = await readMailoutPage(fakeClient(fake), built.pageId);
    const err = await renderLetter(pageContent(page), {}).catch((e: unknown) => e);
    expect(isAppError(err, 'unprocessable')).toBe(true);
    expect((err as Error).message).toMatch(/uploaded to Notion.*SUPABASE_STORAGE_BUCKET.*external image URLs/s);
  });
});

describe('a long, deeply nested page', () => {
  it('renders more than 100 top-level blocks and three levels of nesting completely, in order', async () => {
    const built = buildLongPage(fake, { topLevel: 250, nestEvery: 25 });
    const page = await readMailoutPage(fakeClient(fake), built.pageId);
    const { letter: rendered } = await renderLetter(pageContent(page), {});
    const { html, text } = personalise(rendered, { unsubscribeUrl: 'https://mail.example.com/u?t=1' });
    let last = -1;
    for (let i = 1; i <= 250; i += 1) {
      const needle = i % 25 === 0 ? `Уровень 1 / ${i}` : `Абзац номер ${i}: текст письма с **звёздочками** и ссылкой`;
      const at = html.indexOf(needle);
      expect(at).toBeGreaterThan(last);
      last = at;
      expect(text).toContain(needle);
      if (i % 25 === 0) {
        expect(html).toMatch(new RegExp(`Уровень 1 / ${i}<ul[^>]*>\\s*<li[^>]*>Уровень 2 / ${i}<ul[^>]*>\\s*<li[^>]*>Уровень 3 / ${i}</li>`));
        expect(text).toContain(`- Уровень 1 / ${i}\n  - Уровень 2 / ${i}\n    - Уровень 3 / ${i}`);
      }
    }
    // Three pages of top-level children, 100 at most per request.
    const top = fake.calls(`/v1/blocks/${built.pageId}/children`);
    expect(top.map((r) => r.query.page_size)).toEqual(['100', '100', '100']);
    expect(top[0]!.query.start_cursor).toBeUndefined();
    expect(top[1]!.query.start_cursor).toBe(fake.children.get(built.pageId)![100]!.id);
  });

  it('makes exactly the minimum number of Notion calls', async () => {
    const built = buildLongPage(fake, { topLevel: 230, nestEvery: 10 });
    await readMailoutPage(fakeClient(fake), built.pageId);
    expect(fake.requests.length).toBe(minimumCalls(built.parents));
  });

  it('still renders when a children request fails once with 429, honouring retry-after', async () => {
    const built = buildLongPage(fake, { topLevel: 120, nestEvery: 30 });
    fake.failNext({ method: 'GET', path: `/v1/blocks/${built.pageId}/children`, status: 429, retryAfter: 0, times: 1 });
    const nestedId = fake.children.get(built.pageId)![29]!.id;
    fake.failNext({ method: 'GET', path: `/v1/blocks/${nestedId}/children`, status: 503, times: 1 });
    const page = await readMailoutPage(fakeClient(fake), built.pageId);
    const failed = fake.requests.filter((r) => r.failed);
    expect(failed.map((r) => r.status)).toEqual([429, 503]);
    for (let i = 1; i <= 120; i += 1) expect(page.markdown).toContain(i % 30 === 0 ? `Уровень 3 / ${i}` : `Абзац номер ${i}:`);
  });

  it('fails clearly, rather than sending a partial page, when Notion keeps failing', async () => {
    const built = buildLongPage(fake, { topLevel: 10 });
    fake.failNext({ method: 'GET', path: `/v1/blocks/${built.pageId}/children`, status: 500, times: 10 });
    const err = await readMailoutPage(fakeClient(fake, { maxRetries: 2 }), built.pageId).catch((e: unknown) => e);
    expect(isAppError(err, 'upstream')).toBe(true);
    expect(fake.calls(`/v1/blocks/${built.pageId}/children`)).toHaveLength(3);
  });
});

describe('blocks the email cannot show', () => {
  it('skips malformed, unknown and unreadable blocks, reports them, and renders the rest', async () => {
    const page = fake.addPage(makePage({ properties: { Name: titleProperty('Mixed'), Test: checkboxProperty(false) } }));
    const synced = block('synced_block', { synced_from: { type: 'block_id', block_id: '99999999-9999-4999-8999-999999999999' } }, { hasChildren: true });
    fake.setChildren(page.id, [
      block('paragraph', { rich_text: richText('До') }),
      block('bulleted_list_item', { rich_text: null }),
      block('ai_block', { rich_text: richText('Текст из нового типа блока') }),
      block('meeting_notes', {}),
      block('image', { caption: [], type: 'file_upload', file_upload: { id: 'abc' } }),
      block('video', { caption: [], type: 'file', file: { url: 'https://prod-files-secure.s3.us-west-2.amazonaws.com/x/v.mp4', expiry_time: '2024-01-01T00:00:00.000Z' } }),
      block('child_page', { title: 'Черновики' }),
      synced,
      block('paragraph', { rich_text: richText('После') }),
    ]);
    const read = await readMailoutPage(fakeClient(fake), page.id);
    expect(read.markdown).toContain('До');
    expect(read.markdown).toContain('Текст из нового типа блока');
    expect(read.markdown).toContain('После');
    expect(read.markdown).not.toContain('prod-files-secure');
    expect(read.warnings).toEqual([
      'Rendered a ai_block block as plain text (no email rendering for this type)',
      'Skipped a meeting_notes block (not supported in emails)',
      'Skipped an image without a URL',
      'Skipped a video uploaded to Notion (its link expires within an hour); link to a copy hosted elsewhere instead',
      'Skipped the sub-page "Черновики" (sub-pages are not part of the email)',
      expect.stringMatching(/^Skipped a synced_block block that could not be read/),
    ]);
  });
});

describe('page lookup', () => {
  it('answers an unknown page with not_found and the reason', async () => {
    const err = await readMailoutPage(fakeClient(fake), '0123456789abcdef0123456789abcdef').catch((e: unknown) => e);
    expect(isAppError(err, 'not_found')).toBe(true);
    expect((err as Error).message).toMatch(/not found in Notion.*share the page/);
    expect(fake.requests[0]!.status).toBe(404);
  });

  it('accepts a full Notion URL and sends the token and API version', async () => {
    const built = buildLongPage(fake, { topLevel: 2, title: 'Short' });
    const url = `https://www.notion.so/acme/Short-letter-${built.pageId.replace(/-/g, '')}?pvs=4`;
    const page = await readMailoutPage(fakeClient(fake), url);
    expect(page.subject).toBe('Short');
    expect(page.test).toBe(false);
    expect(fake.requests[0]!.path).toBe(`/v1/pages/${built.pageId}`);
    expect(fake.requests[0]!.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(fake.requests[0]!.headers['notion-version']).toBe('2025-09-03');
  });

  it('refuses a page without a subject', async () => {
    const built = buildLongPage(fake, { topLevel: 1, title: '' });
    const err = await readMailoutPage(fakeClient(fake), built.pageId).catch((e: unknown) => e);
    expect(isAppError(err, 'unprocessable')).toBe(true);
    expect((err as Error).message).toMatch(/no subject/);
  });
});

describe('properties by role', () => {
  it('refuses a page without a Test checkbox, rather than reading it as a live send', async () => {
    const page = fake.addPage(makePage({ properties: { Name: titleProperty('Без галочки') } }));
    const err = await readMailoutPage(fakeClient(fake), page.id).catch((e: unknown) => e);
    expect(isAppError(err, 'unprocessable')).toBe(true);
    expect((err as Error).message).toMatch(/no test checkbox \("Test"\)/);
    expect(fake.calls(`/v1/blocks/${page.id}/children`)).toHaveLength(0);
  });

  it('reads the Russian names setup gives, and the only checkbox as the Test checkbox', async () => {
    const page = fake.addPage(
      makePage({ properties: { Название: titleProperty('Выпуск'), Тема: richTextProperty('Тема письма', 'subj'), 'Только мне': checkboxProperty(true) } }),
    );
    const read = await readMailoutPage(fakeClient(fake), page.id);
    expect(read.subject).toBe('Тема письма');
    expect(read.test).toBe(true);
  });
});
