import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { clearRehostCache, createSupabaseStorage } from '../../lib/images';
import { isAppError } from '../../lib/errors';
import { personalise, renderMailout } from '../../lib/render';
import { letterSource, loadLetter, mailoutIdOf, pageContent, refuseNotionHostedUrls, renderLetter } from '../../lib/letter';
import { NOTION_FILE_URL } from './fixtures';
import { redirectingFetch, solidPng, startFakeStorage, type FakeStorage } from './fake-storage';

/** The one loader: a Markdown file with front matter reads the same for every caller. */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const UNSUB = 'https://mail.example.com/api/unsubscribe?token=t0k.sig';
let dir: string;
let storage: FakeStorage;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'letter-'));
  storage = await startFakeStorage({ serviceKey: 'service-role-key-for-tests', bucket: 'public-images' });
  clearRehostCache();
});
afterEach(async () => {
  fs.rmSync(dir, { recursive: true, force: true });
  await storage.close();
});

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

describe('a Markdown file with front matter', () => {
  const source = '---\nsubject: Новости ноября\npreheader: Коротко о главном\n---\n# Привет, {{name}}!\n\nПервый абзац.\n';

  it('takes its subject and preheader from the front matter, keeps its heading, and never sends the front matter', async () => {
    const loaded = await loadLetter(letterSource(write('november.md', source)));
    const { html, text, subject } = personalise(loaded.letter, { unsubscribeUrl: UNSUB, name: 'Анна' });
    expect(subject).toBe('Новости ноября');
    expect(loaded.letter.preheader).toBe('Коротко о главном');
    expect(html).toMatch(/<h1 [^>]*>Привет, Анна!<\/h1>/);
    expect(text).toMatch(/^Привет, Анна!\n=+\n\nПервый абзац\./);
    for (const part of [html, text]) {
      expect(part).not.toContain('subject:');
      expect(part).not.toContain('preheader:');
      expect(part).not.toContain('——————————');
    }
    expect(loaded.test).toBe(false);
    expect(loaded.warnings).toEqual([]);
  });

  it('without a subject in the front matter, takes the first heading as the subject', async () => {
    const loaded = await loadLetter(letterSource(write('plain.md', '# Выпуск *№12*\n\nТекст.\n')));
    expect(loaded.letter.subject).toBe('Выпуск №12');
    expect(loaded.letter.html).toMatch(/<h1 [^>]*>Выпуск <em>№12<\/em><\/h1>/);
  });

  it('is one mailout, with a UUID id from its front matter `id:` or its file name, whatever folder it is in', async () => {
    const a = write('weekly.md', source);
    fs.mkdirSync(path.join(dir, 'moved'));
    const moved = path.join(dir, 'moved', 'weekly.md');
    fs.copyFileSync(a, moved);
    const id = mailoutIdOf(letterSource(a));
    expect(id).toMatch(UUID);
    expect(mailoutIdOf(letterSource(moved))).toBe(id);
    expect((await loadLetter(letterSource(a))).mailoutId).toBe(id);
    const declared = write('x.md', '---\nid: 11111111-2222-4333-8444-555555555555\nsubject: S\n---\nText\n');
    expect(mailoutIdOf(letterSource(declared))).toBe('11111111-2222-4333-8444-555555555555');
    expect(mailoutIdOf(letterSource(write('y.md', '---\nid: spring-2026\n---\nText\n')))).toMatch(UUID);
  });

  it('keeps the id every earlier version gave it (a mailout already sent is never a new one)', async () => {
    // Pinned: these are the ids earlier versions claimed these files under (SQL twin: mailout_id_from_name).
    const demo = path.resolve(__dirname, '../../scripts/demo/mailout.md');
    expect(mailoutIdOf(letterSource(demo))).toBe('880b3b2d-5f8d-862a-9ef7-a30bf16a20a6');
    expect((await loadLetter(letterSource(demo))).mailoutId).toBe('880b3b2d-5f8d-862a-9ef7-a30bf16a20a6');
    expect(mailoutIdOf(letterSource(write('newsletter-nov.md', source)))).toBe('fdb467b8-1edc-83e2-a87f-18337f4d4ddc');
    expect(mailoutIdOf(letterSource(write('Выпуск №12.md', source)))).toBe('0ba5bab5-dea2-83dc-88e0-bb7ce1a7957a');
    expect(mailoutIdOf(letterSource(write('s.md', '---\nid: spring-2026\n---\nText\n')))).toBe('f65c8046-6cf5-8c56-b815-d4d8c0ee4442');
    expect(mailoutIdOf(letterSource(write('u.md', '---\nid: 11111111222243338444555555555555\n---\nText\n')))).toBe('11111111-2222-4333-8444-555555555555');
  });

  it('says which front matter lines it ignored', async () => {
    const loaded = await loadLetter(letterSource(write('z.md', '---\nsubject: S\nauthor: Анна\n---\nText\n')));
    expect(loaded.warnings).toEqual([expect.stringContaining('author: Анна')]);
  });

  it('carries the signed "view in browser" link in the HTML footer and the text part', async () => {
    const viewUrl = (id: string) => `https://mail.example.com/api/view?m=${id}&sig=abc`;
    const loaded = await loadLetter(letterSource(write('v.md', source)), { viewUrl });
    const { html, text } = personalise(loaded.letter, { unsubscribeUrl: UNSUB });
    const url = viewUrl(loaded.mailoutId);
    expect(html).toContain(`<a href="${url.replace('&', '&amp;')}" style="color:#1a66c9;text-decoration:underline;">Открыть в браузере</a>`);
    expect(text).toContain(`Открыть в браузере: ${url}\nОтписаться от рассылки: ${UNSUB}\n`);
  });
});

describe('image sizes', () => {
  it("come from the re-hosted file's real size and from the first bytes of an external image, capped at the column", async () => {
    storage.serveFile('/files/7b8b0713-dbd4-4962-b38b-955b6c49a573/b2a2e4b4-1d9e-4c1f-9d0b-2c8f0c7d9e11/photo.png', solidPng(1200, 600), 'image/png');
    const external = storage.serveFile('/files/external/chart.png', solidPng(300, 120), 'image/png');
    const page = {
      pageId: '11111111-2222-4333-8444-555555555555',
      subject: 'S',
      test: false,
      markdown: `![Фото](<${NOTION_FILE_URL}>)\n\n![График](${external})\n\n![Нет такого](https://images.example.com/missing.png)\n`,
      warnings: [],
      notionFileUrls: [NOTION_FILE_URL],
    };
    const loaded = await renderLetter(pageContent(page), {
      storage: createSupabaseStorage({ url: storage.url, serviceRoleKey: 'service-role-key-for-tests', bucket: 'public-images' }),
      fetch: redirectingFetch(storage.url),
    });
    const imgs = [...loaded.letter.html.matchAll(/<img src="([^"]+)"( width="\d+")? alt="([^"]*)"/g)].map((m) => [m[3], m[2]?.trim() ?? null]);
    expect(imgs).toEqual([
      ['Фото', 'width="520"'],
      ['График', 'width="300"'],
      ['Нет такого', null],
    ]);
    expect(loaded.warnings).toEqual([expect.stringMatching(/size of an image could not be read.*missing\.png/)]);
  });
});

describe('Notion-hosted files left in a rendered letter', () => {
  it('refuse the letter: their links expire within an hour', () => {
    let err: unknown;
    try {
      refuseNotionHostedUrls(renderMailout({ markdown: `![photo](<${NOTION_FILE_URL}>)`, subject: 'x' }), [], false);
    } catch (e) {
      err = e;
    }
    expect(isAppError(err, 'unprocessable')).toBe(true);
    expect((err as Error).message).toMatch(/expire within an hour/);
  });

  it('are kept (with a warning) only for previews', () => {
    const r = refuseNotionHostedUrls(renderMailout({ markdown: `![photo](<${NOTION_FILE_URL}>)`, subject: 'x' }), [], true);
    expect(r.warnings.join()).toMatch(/preview only/);
  });

  it('are kept with a warning in a Notion page a preview renders without image storage', async () => {
    const page = { pageId: '11111111-2222-4333-8444-555555555555', subject: 'S', test: false, markdown: `Фото: ${NOTION_FILE_URL}\n`, warnings: [], notionFileUrls: [] };
    const previewed = await renderLetter(pageContent(page), { allowNotionHostedUrls: true });
    expect(previewed.warnings.join()).toMatch(/preview only/);
  });
});
