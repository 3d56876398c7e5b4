import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../lib/config';

/** A function's maxDuration is set in vercel.json only (the deploy test checks the build honours it). */

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
