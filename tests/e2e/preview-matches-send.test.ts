import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { simpleParser } from 'mailparser';
import { startSesEmulator } from '../../scripts/local/stack';
import { unsubscribeUrl } from '../../lib/unsubscribe';
import { viewUrl } from '../../lib/view';
import { solidPng, startFakeStorage, type FakeStorage } from '../content/fake-storage';
import { block, checkboxProperty, makePage, richText, richTextProperty, selectProperty, startFakeNotion, titleProperty, type FakeNotion } from '../../scripts/fakes/notion';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

/**
 * The preview is a promise: `npm run preview` and `npm run send` (each in its own process,
 * as an operator runs them) on the same source (a Markdown file, a Notion page), the send
 * going to the SES emulator, give the same subject, HTML and text, byte for byte, once each
 * side's unsubscribe link (the one per-recipient part besides the name) is set aside.
 */

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');
const APP = 'https://mail.example.com';
const UNSUBSCRIBE_SECRET = 'preview-send-unsubscribe-secret-0123456789';

let t: TestDatabase;
let emulator: Awaited<ReturnType<typeof startSesEmulator>> | undefined;
let sesUrl: string;
let images: FakeStorage;
let dir: string;
let env: NodeJS.ProcessEnv;
let notion: FakeNotion;
let mailoutsDb: { databaseId: string; dataSourceId: string };
let subscriberId: string;
const NOTION_TOKEN = 'secret_preview_send_notion';

interface StoredEmail {
  subject: string;
  destination: { to: string[] };
  body: { html?: string; text?: string };
  headers?: { name: string; value: string }[];
}

beforeAll(async () => {
  t = await createTestDatabase();
  // The emulator with its ready sender (scripts/local/ready-sender.ts): a live send passes readiness.
  emulator = await startSesEmulator(0);
  sesUrl = emulator.url;
  emulator.subscribe(APP);
  images = await startFakeStorage({ serviceKey: 'unused-service-key-0123456789', bucket: 'unused' });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'preview-send-'));
  notion = await startFakeNotion({ token: NOTION_TOKEN });
  // Only pages of the Mailouts database are sent (lib/notion/membership).
  mailoutsDb = notion.addDatabase({ title: 'Mailouts' });
  const { rows } = await t.pool.query<{ id: string }>(
    `insert into subscribers (email, name, status, source) values ('anna@example.com', 'Анна', 'active', 'test') returning id`,
  );
  subscriberId = rows[0]!.id;
  env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATABASE_URL: t.url,
    EXECUTOR_SHARED_SECRET: 'preview-send-executor-secret-0123456789',
    UNSUBSCRIBE_SECRET,
    APP_BASE_URL: APP,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local-secret',
    SES_ENDPOINT: sesUrl,
    ...emulator.env,
    SES_FROM_EMAIL: 'news@example.com',
    SES_FROM_NAME: 'Журнал «Пример»',
    FOOTER_ADDRESS: 'ООО «Пример», ул. Ленина, 1\\n101000 Москва',
    LIST_NAME: 'Новости Примера',
    RATE_LIMIT_PER_SEC: '50',
    NOTION_TOKEN,
    NOTION_BASE_URL: notion.url,
    NOTION_MAILOUTS_DATABASE_ID: mailoutsDb.databaseId,
    LOG_LEVEL: 'warn',
  };
});

afterAll(async () => {
  await emulator?.close();
  await images?.close();
  await notion?.close();
  await t?.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Compared {
  mailoutId: string;
  html: string;
  text: string;
  eml: Awaited<ReturnType<typeof simpleParser>>;
  sent: StoredEmail;
}

/**
 * `npm run preview -- REF` and `npm run send -- REF` in their own processes, the emulator's
 * inbox emptied first; the preview's files for BASE and the one email the send handed SES.
 */
async function previewAndSend(reference: string, base: string): Promise<Compared> {
  await fetch(`${sesUrl}/clear-store`, { method: 'POST' });
  const preview = await run(TSX, ['scripts/preview.ts', reference, '--out', dir, '--name', 'Анна', '--to', 'anna@example.com'], { cwd: ROOT, env });
  const mailoutId = /Mailout id: (\S+)/.exec(preview.stdout)![1]!;
  expect(mailoutId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  expect(preview.stdout).not.toMatch(/^(warning|note):/m);

  const send = await run(TSX, ['scripts/send.ts', reference], { cwd: ROOT, env });
  expect(send.stdout).toContain(`"mailout_id": "${mailoutId}"`);
  expect(send.stdout).toContain('"outcome": "complete"');
  const store = (await (await fetch(`${sesUrl}/store`)).json()) as { emails: StoredEmail[] };
  expect(store.emails).toHaveLength(1);
  const sent = store.emails[0]!;
  expect(sent.destination.to).toEqual(['anna@example.com']);
  return {
    mailoutId,
    html: fs.readFileSync(path.join(dir, `${base}.html`), 'utf8'),
    text: fs.readFileSync(path.join(dir, `${base}.txt`), 'utf8'),
    eml: await simpleParser(fs.readFileSync(path.join(dir, `${base}.eml`))),
    sent,
  };
}

const sentUnsubscribe = () => unsubscribeUrl({ appBaseUrl: APP, unsubscribeSecret: UNSUBSCRIBE_SECRET }, subscriberId);
const previewUnsubscribe = `${APP}/api/unsubscribe?token=preview`;
const aside = (s: string | undefined, url: string) => (s ?? '').split(url).join('{{UNSUBSCRIBE}}');

/** Byte for byte, but each side's own unsubscribe link; the headers of ours too. */
function expectSameLetter(c: Compared): void {
  expect(aside(c.sent.body.html, sentUnsubscribe())).toBe(aside(c.html, previewUnsubscribe));
  expect(aside(c.sent.body.text, sentUnsubscribe())).toBe(aside(c.text, previewUnsubscribe));
  expect(c.eml.subject).toBe(c.sent.subject);
  for (const name of ['List-Unsubscribe', 'List-Unsubscribe-Post', 'Precedence', 'X-Mailout-Id']) {
    const sentValue = c.sent.headers?.find((h) => h.name.toLowerCase() === name.toLowerCase())?.value;
    const emlValue = c.eml.headerLines.find((l) => l.key === name.toLowerCase())?.line.slice(name.length + 2);
    expect({ name, value: aside(aside(emlValue, sentUnsubscribe()), previewUnsubscribe) }).toEqual({
      name,
      value: aside(aside(sentValue, sentUnsubscribe()), previewUnsubscribe),
    });
  }
  expect(c.eml.headerLines.find((l) => l.key === 'x-mailout-id')?.line).toBe(`X-Mailout-Id: ${c.mailoutId}`);
  const link = viewUrl({ appBaseUrl: APP, unsubscribeSecret: UNSUBSCRIBE_SECRET }, c.mailoutId);
  expect(c.text).toContain(`Открыть в браузере: ${link}\n`);
  expect(c.html).toContain(`href="${link.replace(/&/g, '&amp;')}"`);
}

test('a Markdown file: npm run preview writes the very letter npm run send hands to SES, byte for byte but the unsubscribe link', async () => {
  const chart = images.serveFile('/files/chart.png', solidPng(1200, 500), 'image/png');
  const file = path.join(dir, 'november.md');
  fs.writeFileSync(
    file,
    `---
subject: Новости ноября для {{name|вас}}
preheader: Цены, цифры и одна новость
---
# Привет, {{name}}!

Эта строка
продолжается здесь, а [ссылка](https://example.com/blog) ведёт в блог.

![График подписчиков](${chart} "Подписчики за год")

| Тариф | Цена |
| :--- | ---: |
| Базовый | 100 ₽ |
| Про | 2 000 ₽ |

С уважением,  
редакция
`,
  );
  const c = await previewAndSend(file, 'november');
  expectSameLetter(c);
  expect(c.sent.subject).toBe('Новости ноября для Анна');
  // What the file promised is what went out.
  expect(c.html).toMatch(/<h1 [^>]*>Привет, Анна!<\/h1>/);
  expect(c.html).not.toContain('subject:');
  expect(c.html).toMatch(/<img src="[^"]+chart\.png" width="520" alt="/);
  expect(c.html).toMatch(/<td class="n-cell" align="right" style="[^"]*text-align:right;?">2 000 ₽<\/td>/);
  expect(c.text).toContain('Эта строка продолжается здесь, а ссылка (https://example.com/blog) ведёт в блог.');
});

test('a Notion page: npm run preview and npm run send read it through the same pipeline and give the same letter', async () => {
  const page = '4d5e6f7a-8b9c-4d0e-9f1a-2b3c4d5e6f70';
  notion.addPage(
    makePage({
      id: page,
      dataSourceId: mailoutsDb.dataSourceId,
      properties: {
        Name: titleProperty('Весенний выпуск'),
        Preheader: richTextProperty('Что нового этой весной', 'ph'),
        Test: checkboxProperty(false),
        Status: selectProperty('Ready'),
        'Last error': richTextProperty(''),
      },
    }),
  );
  notion.setChildren(page, [
    block('heading_1', { rich_text: richText('Что нового') }),
    block('paragraph', { rich_text: richText('Здравствуйте, {{name|читатель}}! Весна пришла.') }),
    block('bulleted_list_item', { rich_text: richText('Первый пункт') }),
    block('bulleted_list_item', { rich_text: richText('Второй пункт') }),
  ]);
  const c = await previewAndSend(`https://www.notion.so/acme/Spring-${page.replace(/-/g, '')}`, page.replace(/-/g, ''));
  expect(c.mailoutId).toBe(page);
  expectSameLetter(c);
  expect(c.sent.subject).toBe('Весенний выпуск');
  expect(c.html).toContain('Здравствуйте, Анна! Весна пришла.');
});
