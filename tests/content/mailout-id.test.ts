import { randomBytes, randomUUID } from 'node:crypto';
import { isAppError } from '../../lib/errors';
import { isCanonicalMailoutId, mailoutIdForFile, mailoutIdFromName, mailoutIdOfNotionWebhook, parseMailoutId } from '../../lib/mailout-id';
import { parseMarkdownLetter } from '../../lib/letter/markdown-file';

/**
 * The one parser of a Notion page reference: every spelling a person or Notion produces is
 * the same canonical id; anything else is a 400 that lists the accepted forms.
 * Property-style: each case runs over many random page ids.
 */

const RUNS = 200;

function randomCase(s: string): string {
  return [...s].map((c) => (Math.random() < 0.5 ? c.toUpperCase() : c.toLowerCase())).join('');
}

/** Every spelling of one page that Notion shows or sends, or a person pastes. */
function spellings(id: string): string[] {
  const bare = id.replace(/-/g, '');
  const other = randomUUID().replace(/-/g, '');
  return [
    id,
    bare,
    id.toUpperCase(),
    bare.toUpperCase(),
    randomCase(id),
    ` ${bare}\n`,
    `https://www.notion.so/${bare}`,
    `https://www.notion.so/acme/November-issue-${bare}`,
    `https://www.notion.so/acme/Ноябрьский-выпуск-${bare}?pvs=4`,
    `https://www.notion.so/acme/Cafe-Beef-${bare.toUpperCase()}`,
    `https://www.notion.so/acme/${encodeURIComponent('Выпуск №5')}-${bare}`,
    `https://www.notion.so/acme/Title-${bare}#${other}`,
    `https://www.notion.so/acme/Title-${bare}?source=copy_link#${other}`,
    `https://acme.notion.site/November-${bare}`,
    `https://acme.notion.site/${bare}?pvs=25`,
    `https://www.notion.so/acme/${other}?v=${randomUUID().replace(/-/g, '')}&p=${bare}&pm=s`,
    `https://www.notion.so/acme/${other}?v=${randomUUID().replace(/-/g, '')}&p=${id}`,
    `www.notion.so/acme/Title-${bare}`,
    `notion://www.notion.so/acme/Title-${bare}`,
    `HTTPS://WWW.NOTION.SO/acme/Title-${bare}`,
    `https://www.notion.so/acme/Title-${id}/`,
  ];
}

test('every spelling of a random page id parses to the same dashed lower-case UUID', () => {
  for (let i = 0; i < RUNS; i += 1) {
    const id = randomUUID();
    for (const s of spellings(id)) {
      const parsed = parseMailoutId(s);
      if (parsed !== id) throw new Error(`${JSON.stringify(s)} parsed to ${parsed}, not ${id}`);
    }
  }
});

test('round trip: the canonical id parses to itself, and any 128 random bits are one id in every spelling', () => {
  for (let i = 0; i < RUNS; i += 1) {
    const hex = randomBytes(16).toString('hex');
    const canonical = parseMailoutId(hex);
    expect(isCanonicalMailoutId(canonical)).toBe(true);
    expect(canonical.replace(/-/g, '')).toBe(hex);
    expect(parseMailoutId(canonical)).toBe(canonical);
    expect(new Set(spellings(canonical).map((s) => parseMailoutId(s)))).toEqual(new Set([canonical]));
  }
});

test('the Notion automation body names its page in data.id, in either spelling', () => {
  const id = randomUUID();
  expect(mailoutIdOfNotionWebhook({ id })).toBe(id);
  expect(mailoutIdOfNotionWebhook({ id: id.replace(/-/g, '') })).toBe(id);
  expect(mailoutIdOfNotionWebhook({ url: `https://www.notion.so/Title-${id.replace(/-/g, '')}` })).toBe(id);
});

function refusal(input: unknown): string {
  try {
    parseMailoutId(input);
  } catch (err) {
    if (!isAppError(err, 'bad_request')) throw err;
    return err.message;
  }
  throw new Error(`${JSON.stringify(input)} was accepted as ${parseMailoutId(input)}`);
}

test('anything else is refused with a 400 that lists the accepted forms', () => {
  const id = randomUUID();
  const bare = id.replace(/-/g, '');
  const refused = [
    '',
    '   ',
    'demo-mailout',
    'm1',
    bare.slice(1),
    `${bare}0`,
    `${id}x`,
    id.replace(/-/g, '_'),
    `{${id}}`,
    `https://evil.example.com/${bare}`,
    `https://notion.so.evil.example/${bare}`,
    `https://evilnotion.so/${bare}`,
    `https://notion.so@evil.example/${bare}`,
    `ftp://www.notion.so/${bare}`,
    `javascript:alert('${bare}')`,
    'https://www.notion.so/acme/Title',
    `https://www.notion.so/acme/${bare}?v=${randomUUID().replace(/-/g, '')}`,
    `https://www.notion.so/acme/Title-${bare}?p=not-a-page`,
    `https://www.notion.so/acme/Title-${bare}extra`,
    null,
    undefined,
    42,
    { id },
  ];
  for (const input of refused) {
    const message = refusal(input);
    expect(message).toMatch(/Accepted: a Notion page id \(32 hex digits, dashed or not, any case\)/);
    expect(message).toMatch(/notion\.site/);
  }
  // Random text is never a page by accident.
  for (let i = 0; i < RUNS; i += 1) refusal(randomBytes(12).toString('base64url'));
});

test('a Markdown letter: the same id for the same front matter id or file name, wherever the file lives', () => {
  const a = mailoutIdForFile({ path: '/srv/letters/2026-11/weekly.md' });
  expect(isCanonicalMailoutId(a)).toBe(true);
  expect(mailoutIdForFile({ path: 'elsewhere/weekly.md' })).toBe(a);
  expect(mailoutIdForFile({ path: '/srv/letters/2026-11/monthly.md' })).not.toBe(a);
  expect(mailoutIdForFile({ frontMatterId: 'weekly', path: '/x/other-name.md' })).toBe(a);
  const page = randomUUID();
  expect(mailoutIdForFile({ frontMatterId: page.replace(/-/g, '').toUpperCase(), path: '/x/a.md' })).toBe(page);
  expect(mailoutIdFromName('demo-mailout')).toBe(mailoutIdForFile({ frontMatterId: 'demo-mailout', path: 'scripts/demo/mailout.md' }));
  expect(parseMarkdownLetter('---\nsubject: Hi\nid: "issue-5"\n---\n# Hi\n', 'a.md').id).toBe('issue-5');
  expect(parseMarkdownLetter('# Hi\n\nid: not front matter\n', 'a.md').id).toBeUndefined();
});
