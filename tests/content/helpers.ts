import fs from 'node:fs';
import path from 'node:path';
import { createNotionClient } from '../../lib/notion/client';
import type { FakeNotion } from '../../scripts/fakes/notion';

export const TOKEN = 'secret_content_tests_token';

/** A client for the fake, paced by the shared limiter as in production; fast retries of the failures a test injects. */
export function fakeClient(fake: FakeNotion, options: { maxRetries?: number } = {}) {
  return createNotionClient(
    { token: TOKEN, baseUrl: fake.url },
    { retry: { maxRetries: options.maxRetries ?? 3, initialRetryDelayMs: 5, maxRetryDelayMs: 50 } },
  );
}

/** Every href and src in an HTML document. */
export function urlsIn(html: string): { hrefs: string[]; srcs: string[] } {
  const hrefs = [...html.matchAll(/\shref="([^"]*)"/g)].map((m) => m[1]!);
  const srcs = [...html.matchAll(/\ssrc="([^"]*)"/g)].map((m) => m[1]!);
  return { hrefs, srcs };
}

const GOLDEN_DIR = path.join(__dirname, 'golden');

/**
 * Compares `actual` with tests/content/golden/<name>. `UPDATE_GOLDEN=1 npx jest tests/content`
 * rewrites the files (review the diff before committing); a missing file fails the test.
 */
export function expectGolden(name: string, actual: string): void {
  const file = path.join(GOLDEN_DIR, name);
  if (process.env.UPDATE_GOLDEN === '1') {
    fs.mkdirSync(GOLDEN_DIR, { recursive: true });
    fs.writeFileSync(file, actual);
  }
  if (!fs.existsSync(file)) throw new Error(`golden file ${name} is missing: run UPDATE_GOLDEN=1 npx jest tests/content and review it`);
  expect(actual).toBe(fs.readFileSync(file, 'utf8'));
}
