import fs from 'node:fs';
import path from 'node:path';
import { escapeHtml } from '../../lib/html';

/** One of each primitive: a second copy drifts from the first, so each lives in one file (block comments aside). */

const ROOT = path.resolve(__dirname, '../..');

function sources(): Array<{ file: string; code: string }> {
  return ['lib', 'api', 'scripts'].flatMap((dir) =>
    fs
      .readdirSync(path.join(ROOT, dir), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .map((f) => path.join(dir, f))
      .map((file) => ({ file, code: fs.readFileSync(path.join(ROOT, file), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '') })),
  );
}

function filesMatching(pattern: RegExp): string[] {
  return sources()
    .filter((s) => pattern.test(s.code))
    .map((s) => s.file)
    .sort();
}

test('HTML is escaped by one function, lib/html.ts escapeHtml', () => {
  expect(filesMatching(/function escapeHtml\b|'&#39;'/)).toEqual(['lib/html.ts']);
  expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
});

test('one notice page and one set of security headers, in lib/html.ts (the letter has its own frame)', () => {
  expect(filesMatching(/<!doctype html>/i)).toEqual(['lib/html.ts', 'lib/render/template.ts']);
  expect(filesMatching(/'(content-security-policy|x-frame-options|referrer-policy)'/)).toEqual(['lib/html.ts']);
});

test('one timeout helper, lib/timeout.ts withTimeout (a fetch may also pass AbortSignal.timeout)', () => {
  expect(filesMatching(/setTimeout\([\s\S]{0,120}\.abort\(\)/)).toEqual(['lib/timeout.ts']);
});

test('one link signer (lib/signed-link.ts) and one constant-time comparison (lib/http.ts secretsEqual)', () => {
  expect(filesMatching(/createHmac\(/)).toEqual(['lib/signed-link.ts']);
  expect(filesMatching(/timingSafeEqual\(/)).toEqual(['lib/http.ts']);
  // Their addresses come from its linkUrl, never from a template of their own.
  expect(filesMatching(/\}\/api\/(view|report|unsubscribe)\?/)).toEqual([]);
});

test('one email validator, lib/email.ts checkEmail: no anchored address pattern or zod .email() elsewhere', () => {
  expect(filesMatching(/\/\^[^/\n]*@[^/\n]*\$\/|\.email\(/)).toEqual([]);
});

test("one letter as loaded, one as stored and one recipient, in lib/letter/types.ts; one rule for a file's mailout id", () => {
  expect(filesMatching(/\b(interface|type) (LoadedLetter|RenderedMailout|LetterSource|Recipient)\s*[={<]/)).toEqual(['lib/letter/types.ts']);
  // Any other recipient type is that one: a live send's (BatchRecipient) only makes its subscriber id required.
  expect(filesMatching(/\b(interface|type) \w*Recipient\b(?! = Required<Recipient>)\s*[={<]/)).toEqual(['lib/letter/types.ts']);
  // lib/mailout-id.ts holds the rule (front matter `id:`, else the file name), lib/letter/load-file.ts alone applies it to a file.
  expect(filesMatching(/\bmailoutIdForFile\(/)).toEqual(['lib/letter/load-file.ts', 'lib/mailout-id.ts']);
});

test('one parser of a pasted Notion id or link, lib/mailout-id.ts: no other file calls the SDK\'s extractors or matches 32 hex digits', () => {
  const hex32 = /\[(?:0-9a-f|a-f0-9|0-9a-fA-F|0-9A-Fa-f|a-fA-F0-9|A-Fa-f0-9|\\da-f|a-f\\d)\]\{32\}/i;
  expect(filesMatching(/\bextract(?:Notion|Page|Database|Block)Id\b/)).toEqual([]);
  expect(filesMatching(hex32)).toEqual(['lib/mailout-id.ts']);
  // The guard sees the spellings a second parser would use.
  for (const spelling of ['/^[0-9a-f]{32}$/', '/([0-9A-Fa-f]{32})/', '/[\\da-f]{32}/i']) expect(hex32.test(spelling)).toBe(true);
  expect(hex32.test('[a-zA-Z0-9]{32}')).toBe(false);
});

test('one Notion client, lib/notion/client.ts createNotionClient: nothing else builds one, so every request is paced by the shared limiter', () => {
  expect(filesMatching(/new Client\(\{\s*auth\b/)).toEqual(['lib/notion/client.ts']);
});
