import { execFile } from 'node:child_process';
import fs from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { simpleParser } from 'mailparser';
import startEmulator from 'aws-ses-v2-local';
import { unsubscribeUrl } from '../../lib/unsubscribe';
import { viewUrl } from '../../lib/view';
import { solidPng, startFakeStorage, type FakeStorage } from '../content/fake-storage';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

/**
 * The preview is a promise: `npm run preview` and `npm run send` (each in its own process,
 * as an operator runs them) on the same Markdown file, the send going to the SES emulator,
 * give the same subject, HTML and text, byte for byte, once each side's unsubscribe link
 * (the one per-recipient part besides the name) is set aside.
 */

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');
const APP = 'https://mail.example.com';
const UNSUBSCRIBE_SECRET = 'preview-send-unsubscribe-secret-0123456789';

let t: TestDatabase;
let emulator: Server;
let sesUrl: string;
let images: FakeStorage;
let dir: string;
let env: NodeJS.ProcessEnv;

interface StoredEmail {
  subject: string;
  destination: { to: string[] };
  body: { html?: string; text?: string };
  headers?: { name: string; value: string }[];
}

beforeAll(async () => {
  t = await createTestDatabase();
  emulator = await startEmulator({ host: '127.0.0.1', port: 0 });
  sesUrl = `http://127.0.0.1:${(emulator.address() as AddressInfo).port}`;
  images = await startFakeStorage({ serviceKey: 'unused-service-key-0123456789', bucket: 'unused' });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'preview-send-'));
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
    SES_FROM_EMAIL: 'news@example.com',
    SES_FROM_NAME: 'Журнал «Пример»',
    FOOTER_ADDRESS: 'ООО «Пример», ул. Ленина, 1\\n101000 Москва',
    LIST_NAME: 'Новости Примера',
    RATE_LIMIT_PER_SEC: '50',
    LOG_LEVEL: 'warn',
  };
});

afterAll(async () => {
  emulator?.closeAllConnections();
  await new Promise<void>((r) => (emulator ? emulator.close(() => r()) : r()));
  await images?.close();
  await t?.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('npm run preview writes the very letter npm run send hands to SES: subject, HTML and text, byte for byte but the unsubscribe link', async () => {
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
  const { rows } = await t.pool.query<{ id: string }>(
    `insert into subscribers (email, from_name, status, source) values ('anna@example.com', 'Анна', 'active', 'test') returning id`,
  );
  const subscriberId = rows[0]!.id;

  const preview = await run(TSX, ['scripts/preview.ts', file, '--out', dir, '--name', 'Анна', '--to', 'anna@example.com'], { cwd: ROOT, env });
  const mailoutId = /Mailout id: (\S+)/.exec(preview.stdout)![1]!;
  expect(mailoutId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  expect(preview.stdout).not.toMatch(/^(warning|note):/m);

  const send = await run(TSX, ['scripts/send.ts', file], { cwd: ROOT, env });
  expect(send.stdout).toContain(`"mailout_id": "${mailoutId}"`);
  expect(send.stdout).toContain('"outcome": "complete"');

  const store = (await (await fetch(`${sesUrl}/store`)).json()) as { emails: StoredEmail[] };
  expect(store.emails).toHaveLength(1);
  const sent = store.emails[0]!;
  expect(sent.destination.to).toEqual(['anna@example.com']);

  const sentUnsubscribe = unsubscribeUrl({ appBaseUrl: APP, unsubscribeSecret: UNSUBSCRIBE_SECRET }, subscriberId);
  const previewUnsubscribe = `${APP}/api/unsubscribe?token=preview`;
  const aside = (s: string, url: string) => s.split(url).join('{{UNSUBSCRIBE}}');
  const previewHtml = fs.readFileSync(path.join(dir, 'november.html'), 'utf8');
  const previewText = fs.readFileSync(path.join(dir, 'november.txt'), 'utf8');
  expect(aside(sent.body.html!, sentUnsubscribe)).toBe(aside(previewHtml, previewUnsubscribe));
  expect(aside(sent.body.text!, sentUnsubscribe)).toBe(aside(previewText, previewUnsubscribe));
  expect(sent.subject).toBe('Новости ноября для Анна');

  // What the file promised is what went out.
  expect(previewHtml).toMatch(/<h1 [^>]*>Привет, Анна!<\/h1>/);
  expect(previewHtml).not.toContain('subject:');
  expect(previewHtml).toMatch(/<img src="[^"]+chart\.png" width="520" alt="/);
  expect(previewHtml).toMatch(/<td class="n-cell" align="right" style="[^"]*text-align:right;?">2 000 ₽<\/td>/);
  expect(previewText).toContain('Эта строка продолжается здесь, а ссылка (https://example.com/blog) ведёт в блог.');
  const link = viewUrl({ appBaseUrl: APP, unsubscribeSecret: UNSUBSCRIBE_SECRET }, mailoutId);
  expect(previewText).toContain(`Открыть в браузере: ${link}\n`);
  expect(previewHtml).toContain(`href="${link.replace(/&/g, '&amp;')}"`);

  // The .eml carries the headers the send carried, with the same values but the link.
  const eml = await simpleParser(fs.readFileSync(path.join(dir, 'november.eml')));
  expect(eml.subject).toBe(sent.subject);
  const ours = (name: string, value: string | undefined) => (value ?? '').replace(sentUnsubscribe, '{{UNSUBSCRIBE}}').replace(previewUnsubscribe, '{{UNSUBSCRIBE}}');
  for (const name of ['List-Unsubscribe', 'List-Unsubscribe-Post', 'Precedence', 'X-Mailout-Id']) {
    const sentValue = sent.headers?.find((h) => h.name.toLowerCase() === name.toLowerCase())?.value;
    const emlLine = eml.headerLines.find((l) => l.key === name.toLowerCase())?.line.slice(name.length + 2);
    expect({ name, value: ours(name, emlLine) }).toEqual({ name, value: ours(name, sentValue) });
  }
  expect(eml.headerLines.find((l) => l.key === 'x-mailout-id')?.line).toBe(`X-Mailout-Id: ${mailoutId}`);
});
