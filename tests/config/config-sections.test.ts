import fs from 'node:fs';
import path from 'node:path';
import { loadConfig, loadNotionConfig } from '../../lib/config';

/**
 * One configuration: sections a command-line tool loads alone, with the executor's checks; a
 * function's maxDuration set in vercel.json only (the deploy test checks the build honours it).
 */

const ROOT = path.resolve(__dirname, '..', '..');
const vercel = JSON.parse(fs.readFileSync(path.join(ROOT, 'vercel.json'), 'utf8')) as { functions: Record<string, { maxDuration: number }> };

test('no api/ file sets its own maxDuration', () => {
  const files = fs.readdirSync(path.join(ROOT, 'api'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  expect(files.length).toBeGreaterThan(5);
  const setting = files.filter((f) => /maxDuration/.test(fs.readFileSync(path.join(ROOT, 'api', f), 'utf8')));
  expect(setting).toEqual([]);
});

test("the send engine's fallback time budget is send-mailout's maxDuration in vercel.json", () => {
  const config = loadConfig({
    EXECUTOR_SHARED_SECRET: 'a-secret-of-enough-length-0123',
    APP_BASE_URL: 'https://mailout.example.com',
    AWS_REGION: 'eu-west-1',
    SES_FROM_EMAIL: 'news@example.com',
    DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/db',
  });
  expect(config.sending.maxDurationSeconds).toBe(vercel.functions['api/send-mailout.ts']!.maxDuration);
});

test('the Notion section loads alone, with the same checks as the whole configuration', () => {
  expect(loadNotionConfig({ NOTION_TOKEN: ' ntn_0123456789 ', NOTION_BASE_URL: 'http://127.0.0.1:9/' })).toEqual({
    token: 'ntn_0123456789',
    mailoutsDatabaseId: undefined,
    errorsDatabaseId: undefined,
    baseUrl: 'http://127.0.0.1:9',
  });
  expect(loadNotionConfig({})).toEqual({ token: undefined, mailoutsDatabaseId: undefined, errorsDatabaseId: undefined, baseUrl: undefined });
  expect(() => loadNotionConfig({ NOTION_TOKEN: 'short' })).toThrow(/NOTION_TOKEN is too short for a Notion integration secret/);
});

test('SES_FROM_EMAIL and SES_REPLY_TO are checked by the one email validator and kept in its canonical form', () => {
  const env = {
    EXECUTOR_SHARED_SECRET: 'a-secret-of-enough-length-0123',
    APP_BASE_URL: 'https://mailout.example.com',
    AWS_REGION: 'eu-west-1',
    DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/db',
  };
  const config = loadConfig({ ...env, SES_FROM_EMAIL: 'News@Пример.РФ', SES_REPLY_TO: 'Editor@Example.COM' });
  expect(config.ses).toMatchObject({ fromEmail: 'News@xn--e1afmkfd.xn--p1ai', replyTo: 'Editor@example.com' });
  expect(() => loadConfig({ ...env, SES_FROM_EMAIL: 'jo..hn@example.com' })).toThrow(/SES_FROM_EMAIL.*invalid dots in local part/s);
  expect(() => loadConfig({ ...env, SES_FROM_EMAIL: 'news@example.com', SES_REPLY_TO: 'editor@localhost' })).toThrow(/SES_REPLY_TO/);
});
