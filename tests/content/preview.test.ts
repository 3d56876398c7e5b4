import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { simpleParser } from 'mailparser';
import { startFakeNotion, type FakeNotion } from '../../scripts/fakes/notion';
import { buildEveryBlockPage } from './fixtures';
import { TOKEN } from './helpers';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');

function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, ...extra };
  return env;
}

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'preview-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('npm run preview', () => {
  it('renders a local Markdown file to .html, .txt and .eml with no Notion, no network and no configuration', async () => {
    const file = path.join(dir, 'letter.md');
    fs.writeFileSync(
      file,
      '---\nsubject: Новости ноября 🎉\npreheader: Коротко о главном\n---\n# Привет, {{name}}!\n\nТекст со [ссылкой](https://example.com).\n\n- один\n- два\n\n<script>alert(1)</script>\n',
    );
    const out = path.join(dir, 'out');
    const { stdout } = await run(TSX, ['scripts/preview.ts', file, '--out', out, '--name', 'Анна'], { cwd: ROOT, env: cleanEnv() });
    expect(stdout).toContain('Subject: Новости ноября 🎉');
    expect(fs.readdirSync(out).sort()).toEqual(['letter.eml', 'letter.html', 'letter.txt']);
    // No FOOTER_ADDRESS in this environment: the preview says a live send would be refused.
    expect(stdout).toMatch(/warning: FOOTER_ADDRESS is not set/);

    const html = fs.readFileSync(path.join(out, 'letter.html'), 'utf8');
    const text = fs.readFileSync(path.join(out, 'letter.txt'), 'utf8');
    expect(html).toContain('Привет, Анна!');
    expect(html).toContain('Коротко о главном');
    expect(html).not.toContain('<script');
    expect(text).toContain('Текст со ссылкой (https://example.com).');
    expect(text).toContain('- один\n- два');

    const mail = await simpleParser(fs.readFileSync(path.join(out, 'letter.eml')));
    expect(mail.subject).toBe('Новости ноября 🎉');
    expect(mail.html).toBe(html);
    expect(mail.text).toBe(text);
    expect(mail.from?.value[0]!.address).toBe('newsletter@example.com');
    expect(mail.headers.get('precedence')).toBe('bulk');
  });

  it('renders a Notion page by URL when NOTION_TOKEN is set', async () => {
    const fake: FakeNotion = await startFakeNotion({ token: TOKEN });
    try {
      const built = buildEveryBlockPage(fake);
      const url = `https://www.notion.so/acme/November-${built.pageId.replace(/-/g, '')}`;
      const { stdout } = await run(TSX, ['scripts/preview.ts', url, '--out', dir], {
        cwd: ROOT,
        env: cleanEnv({ NOTION_TOKEN: TOKEN, NOTION_BASE_URL: fake.url, SES_FROM_EMAIL: 'news@example.com', SES_FROM_NAME: 'Пример', FOOTER_ADDRESS: 'Москва' }),
      });
      const base = built.pageId.replace(/-/g, '');
      expect(stdout).toContain('Subject: Новости ноября 🎉 — что нового');
      expect(stdout).toContain('Test mode: yes, status: Ready');
      expect(stdout).toMatch(/warning: .*unsupported/);
      expect(stdout).toMatch(/warning: .*expire within an hour \(preview only\)/);
      expect(stdout).not.toMatch(/FOOTER_ADDRESS/);
      const mail = await simpleParser(fs.readFileSync(path.join(dir, `${base}.eml`)));
      expect(mail.subject).toBe('Новости ноября 🎉 — что нового');
      expect(mail.from?.value[0]).toEqual({ address: 'news@example.com', name: 'Пример' });
      expect(mail.html).toContain('Новости проекта');
      expect(mail.text).toContain('Москва');
      expect(fake.requests.every((r) => r.headers.authorization === `Bearer ${TOKEN}`)).toBe(true);
    } finally {
      await fake.close();
    }
  });

  it('explains what is missing for a Notion page without NOTION_TOKEN', async () => {
    const err = await run(TSX, ['scripts/preview.ts', '1429989fe8ac4effbc8f57f56486db54'], { cwd: ROOT, env: cleanEnv() }).catch((e: { code: number; stderr: string }) => e);
    expect((err as { code: number }).code).toBe(2);
    expect((err as { stderr: string }).stderr).toContain('needs NOTION_TOKEN');
  });
});
