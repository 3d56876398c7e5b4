import { readMailoutPage } from '../../lib/notion/read';
import { renderMailout } from '../../lib/render';
import { checkboxProperty, makePage, startFakeNotion, titleProperty, type FakeNotion } from '../../scripts/fakes/notion';
import blockFixtures from './fixtures/notion/blocks.json';
import richTextFixtures from './fixtures/notion/rich-text.json';
import { fakeClient, TOKEN } from './helpers';

/**
 * Every block and rich-text type the Notion API returns, as the API reference shows it
 * (tests/content/fixtures/notion/*.json, each with its source), read through the real client
 * against the fake Notion API and rendered: each is shown well in the HTML and the text part,
 * or dropped with a warning that names it.
 */
type Json = Record<string, any>;
interface Expect {
  html?: (string | RegExp)[];
  text?: (string | RegExp)[];
  notHtml?: (string | RegExp)[];
  notText?: (string | RegExp)[];
  warnings?: (string | RegExp)[];
}

let fake: FakeNotion;
beforeAll(async () => {
  fake = await startFakeNotion({ token: TOKEN });
});
afterAll(async () => {
  await fake.close();
});

/** A mailout page holding `blocks`, with their children and the pages they link to. */
async function render(blocks: Json[], children: Record<string, Json[]>, pages: Json[] = []) {
  for (const p of pages) fake.addPage(structuredClone(p));
  const page = fake.addPage(makePage({ properties: { Name: titleProperty('Shapes'), Test: checkboxProperty(false) } }));
  for (const [id, kids] of Object.entries(children)) fake.setChildren(id, structuredClone(kids));
  fake.setChildren(page.id, structuredClone(blocks));
  const read = await readMailoutPage(fakeClient(fake), page.id);
  const letter = renderMailout({ markdown: read.markdown, subject: 'Shapes', footerAddress: 'Example Publishing, 1 Main St' });
  // The body alone: from the content cell to the footer's address.
  const body = letter.html.slice(letter.html.indexOf('class="n-card n-content"'), letter.html.indexOf('Example Publishing'));
  return { html: body, text: letter.text.split('\n-- \n')[0]!, warnings: read.warnings, markdown: read.markdown };
}

function check(out: { html: string; text: string; warnings: string[] }, e: Expect) {
  const has = (s: string, p: string | RegExp) => (typeof p === 'string' ? expect(s).toContain(p) : expect(s).toMatch(p));
  const hasNot = (s: string, p: string | RegExp) => (typeof p === 'string' ? expect(s).not.toContain(p) : expect(s).not.toMatch(p));
  for (const p of e.html ?? []) has(out.html, p);
  for (const p of e.text ?? []) has(out.text, p);
  for (const p of e.notHtml ?? []) hasNot(out.html, p);
  for (const p of e.notText ?? []) hasNot(out.text, p);
  expect(out.warnings).toEqual((e.warnings ?? []).map((w) => (typeof w === 'string' ? w : expect.stringMatching(w))));
}

const BLOCKS: Record<string, Expect> = {
  'synced block, original': { html: ['⭐ Callout in synced block'], text: ['> ⭐ Callout in synced block'] },
  'synced block, duplicate': { html: ['⭐ Callout in synced block'], text: ['> ⭐ Callout in synced block'] },
  'toggle heading with children': { html: [/<h2[^>]*>Lacinato kale<\/h2>/, 'Inside the toggle heading'], text: ['Lacinato kale\n-------------', 'Inside the toggle heading'] },
  'column list': { html: [/Left column[\s\S]*Right column/], text: ['Left column\n\nRight column'] },
  'table with a column header': { html: [/<thead><tr><th[^>]*>Plan<\/th><th[^>]*>Price<\/th>/, /<td[^>]*>Pro<\/td>/], text: ['Plan | Price\n------------\nPro | 200\nTeam | 500'] },
  'table without header flags': { html: [/<tbody><tr><td[^>]*>Plan<\/td>/], notHtml: ['<thead>', '<th '], text: ['Plan | Price\nPro | 200\nTeam | 500'], notText: ['---'] },
  'table with a row header': { html: [/<td[^>]*><strong>Plan<\/strong><\/td>/, /<td[^>]*><strong>Pro<\/strong><\/td><td[^>]*>200<\/td>/], notHtml: ['<thead>'], text: ['Plan | Price\nPro | 200'] },
  equation: { html: [/<code[^>]*>e=mc\^2<\/code>/], text: ['e=mc^2'] },
  bookmark: { html: [/<a href="https:\/\/companywebsite.com"[^>]*>https:\/\/companywebsite.com<\/a>/], text: ['https://companywebsite.com'] },
  embed: { html: ['href="https://player.vimeo.com/video/226053498?h=a1599a8ee9"'], text: ['https://player.vimeo.com/video/226053498?h=a1599a8ee9'] },
  'file, external': { html: [/<a href="https:\/\/companywebsite.com\/files\/doc.txt"[^>]*>doc.txt<\/a>/], text: ['doc.txt (https://companywebsite.com/files/doc.txt)'] },
  'file, uploaded to Notion': { notHtml: ['prod-files-secure'], notText: ['prod-files-secure'], warnings: [/^Skipped a file uploaded to Notion/] },
  'pdf, external': { html: ['href="https://website.domain/files/doc.pdf"'], text: ['https://website.domain/files/doc.pdf'] },
  'callout, emoji icon': { html: ['⭐ Lacinato kale'], text: ['> ⭐ Lacinato kale'] },
  'callout, external icon': { html: ['Lacinato kale'], notHtml: ['website.domain'], text: ['> Lacinato kale'], warnings: ["Dropped a callout's external icon (an image icon is not shown in emails; use an emoji)"] },
  'callout, file icon': { html: ['Lacinato kale'], notHtml: ['prod-files-secure'], warnings: ["Dropped a callout's file icon (an image icon is not shown in emails; use an emoji)"] },
  'callout, custom emoji icon': { html: [':bufo: Lacinato kale'], text: ['> :bufo: Lacinato kale'], notHtml: ['notion-static'] },
  'to-do, empty': { html: [/<li[^>]*>☐<\/li>/], notHtml: ['&nbsp;', '\u00a0'], text: ['[ ]'] },
  'link to a page shared to the web': { html: [/<a href="https:\/\/acme.notion.site\/Tuscan-kale-b55c9c91384d452b81dbd1ef79372b75"[^>]*>Tuscan kale<\/a>/], text: ['Tuscan kale (https://acme.notion.site/'] },
  'link to a private page': { notHtml: ['notion.so'], warnings: [/^Skipped a link to a Notion page that is not shared to the web/] },
  'unsupported, breadcrumb and table of contents': {
    warnings: [
      'Skipped a block the Notion API does not expose (type "unsupported")',
      'Skipped a breadcrumb block (it has no meaning in an email)',
      'Skipped a table of contents block (it has no meaning in an email)',
    ],
  },
};

const RICH_TEXT: Record<string, Expect> = {
  'page mention, private': { html: ['Lacinato kale'], notHtml: ['notion.so', '<a '], text: ['Lacinato kale'], notText: ['notion.so'] },
  'page mention, shared to the web': { html: [/<a href="https:\/\/acme.notion.site\/Tuscan-kale-[0-9a-f]{32}"[^>]*>Tuscan kale<\/a>/], notHtml: ['notion.so'] },
  'date mention without an end': { html: ['2023-03-01'], text: ['2023-03-01'], notHtml: ['→'], notText: ['→', ','] },
  'date mention, a range': { html: ['2022-12-16 – 2022-12-19'], text: ['2022-12-16 – 2022-12-19'], notHtml: ['→'] },
  'date mention with a time': { html: ['2022-12-16 10:00'], notHtml: ['T10:00:00'] },
  'user mention': { html: ['@Anonymous'], notHtml: ['<a '], text: ['@Anonymous'] },
  'database mention': { html: ['Database with test things'], notHtml: ['notion.so', '<a '] },
  'link preview mention': { html: ['href="https://workspace.slack.com/archives/C04PF0F9QSD/p1671139297838409"'] },
  'link mention': { html: [/<a href="https:\/\/wikidocs.net\/250622"[^>]*>Activation functions<\/a>/], text: ['Activation functions (https://wikidocs.net/250622)'] },
  'template mention': { html: ['@Today'], notHtml: ['<a '] },
  'custom emoji mention': { html: [':bufo:'], notHtml: ['notion-static'] },
  link: { html: [/<a href="https:\/\/developers.notion.com\/"[^>]*>inline link<\/a>/], text: ['inline link (https://developers.notion.com/)'] },
  'every annotation': {
    html: ['<strong>bold</strong>', '<em>italic</em>', '<s>struck</s>', '<u>underlined</u>', /<code class="n-codespan"[^>]*>code<\/code>/],
    text: ['bold italic struck underlined code'],
  },
  'every colour': {
    html: [
      ...['#337ea9', '#9f6b53', '#787774', '#448361', '#d9730d', '#c14c8a', '#9065b0', '#d44c47', '#cb912f'].map((c) => `color:${c}`),
      ...['#e7f3f8', '#f4eeee', '#f1f1ef', '#edf3ec', '#fbecdd', '#f9eef3', '#f4f0f7', '#fdebec', '#fbf3db'].map((c) => `background-color:${c}`),
    ],
    text: ['blue', 'yellow bg'],
  },
};

describe('block types', () => {
  test('every fixture has its expectations, and every expectation a fixture', () => {
    expect(blockFixtures.cases.map((c) => c.name).sort()).toEqual(Object.keys(BLOCKS).sort());
    for (const c of blockFixtures.cases) expect(c.source).toMatch(/^https:\/\//);
  });
  test.each(blockFixtures.cases.map((c) => [c.name, c] as const))('%s', async (name, c) => {
    check(await render(c.blocks as Json[], c.children as Record<string, Json[]>, (c as { pages?: Json[] }).pages), BLOCKS[name]!);
  });
});

describe('rich text types', () => {
  test('every fixture has its expectations, and every expectation a fixture', () => {
    expect(richTextFixtures.cases.map((c) => c.name).sort()).toEqual(Object.keys(RICH_TEXT).sort());
  });
  test.each(richTextFixtures.cases.map((c) => [c.name, c] as const))('%s', async (name, c) => {
    const paragraph = { ...blockFixtures.cases[0]!.blocks[0], id: '9c1f0000-0000-4000-8000-000000000001', has_children: false, type: 'paragraph', synced_block: undefined, paragraph: { rich_text: c.rich_text, color: 'default' } };
    check(await render([paragraph], {}, richTextFixtures.pages as Json[]), RICH_TEXT[name]!);
  });
});
