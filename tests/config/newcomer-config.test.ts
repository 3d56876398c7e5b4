import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../lib/config';

/**
 * What a newcomer reads: `.env.example` names every variable the code reads, the commands in
 * the README and in the messages are typed the way npm passes their flags on, and a variable
 * left empty or wrong says what to set.
 */
const ROOT = path.resolve(__dirname, '..', '..');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.join(e.parentPath, e.name));
}

// The benchmarks' own knobs (SEND_BENCH_*, IMPORT_BENCH_*) are not configuration.
const PRODUCT_SOURCES = [...sourceFiles('lib'), ...sourceFiles('api'), ...sourceFiles('scripts')].filter(
  (f) => !path.relative(ROOT, f).startsWith(path.join('scripts', 'bench')),
);

/** Every environment variable a source file reads, however it reads it. */
function variablesRead(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const names = new Set<string>();
  const patterns = [
    /process\.env(?:\.|\[['"])([A-Z][A-Z0-9_]*)/g, // process.env.X, process.env['X']
    /\benv(?:\.|\[['"])([A-Z][A-Z0-9_]*)/g, // env.X where env is the environment (or a copy)
    /\b(?:env|portFrom)\(\s*['"]([A-Z][A-Z0-9_]*)['"]/g, // env('X'), portFrom('X')
  ];
  for (const re of patterns) for (const m of text.matchAll(re)) names.add(m[1]!);
  if (file.endsWith(path.join('lib', 'config.ts'))) {
    // The validated schema: every key of envSchema.
    const schema = text.slice(text.indexOf('const envSchema = z.object({'), text.indexOf('});', text.indexOf('const envSchema')));
    for (const m of schema.matchAll(/^\s+([A-Z][A-Z0-9_]*):/gm)) names.add(m[1]!);
  }
  return [...names];
}

test('.env.example lists every variable the code reads (set, or commented out when it is an alternative)', () => {
  const example = fs.readFileSync(path.join(ROOT, '.env.example'), 'utf8');
  const listed = new Set([...example.matchAll(/^(?:#\s*)?([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]!));
  const read = new Map<string, string>();
  for (const file of PRODUCT_SOURCES) for (const name of variablesRead(file)) read.set(name, path.relative(ROOT, file));
  // The scan itself works: variables read in each of its ways are found.
  for (const name of ['EXECUTOR_SHARED_SECRET', 'AWS_SESSION_TOKEN', 'SES_PORT', 'PORT', 'SNS_TOPIC_NAME', 'LOCAL_DATA_DIR']) {
    expect(read.has(name)).toBe(true);
  }
  const missing = [...read].filter(([name]) => !listed.has(name)).map(([name, file]) => `${name} (read in ${file})`);
  expect(missing).toEqual([]);
});

/**
 * `npm run NAME` (or `npm start`) followed by a flag before a bare `--`: npm takes the flag for
 * itself. A `--` inside an optional group (`[-- --dry-run]`) carries only that group's flags:
 * leave the group out and a later `[--policy-only]` goes to npm.
 */
function flagsLostToNpm(text: string): string[] {
  const lost: string[] = [];
  for (const m of text.matchAll(/npm (?:run [\w:-]+|start|test)([^`|\n;&)]*)/g)) {
    for (const part of m[1]!.match(/\[[^\]]*\]|\S+/g) ?? []) {
      if (part === '--') break;
      const optional = part.startsWith('[');
      const inner = optional ? part.slice(1, -1).trim() : part;
      if (optional && /^--(\s|$)/.test(inner)) continue;
      if (/(^|\s)-/.test(inner)) {
        lost.push(m[0]!.trim());
        break;
      }
    }
  }
  return lost;
}

test('every `npm run` command in the README and in the messages passes its flags after --', () => {
  const texts = [path.join(ROOT, 'README.md'), ...PRODUCT_SOURCES];
  const lost = texts.flatMap((f) => flagsLostToNpm(fs.readFileSync(f, 'utf8')).map((cmd) => `${path.relative(ROOT, f)}: ${cmd}`));
  expect(lost).toEqual([]);
  // The check catches the mistake it is for.
  expect(flagsLostToNpm('`npm run setup:aws -- [--dry-run] [--policy-only]`, `npm start [-- --demo]`')).toEqual([]);
  expect(flagsLostToNpm('run `npm run setup:aws --policy-only`')).toEqual(['npm run setup:aws --policy-only']);
  expect(flagsLostToNpm('`npm run setup:aws [-- --dry-run] [--policy-only]`')).toEqual(['npm run setup:aws [-- --dry-run] [--policy-only]']);
});

const complete = {
  EXECUTOR_SHARED_SECRET: 'a-secret-of-enough-length-0123',
  APP_BASE_URL: 'https://mailout.example.com',
  AWS_REGION: 'eu-west-1',
  SES_FROM_EMAIL: 'news@example.com',
  DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/db',
};
const problem = (env: Record<string, string>) => {
  try {
    loadConfig({ ...complete, ...env });
    return 'no error';
  } catch (err) {
    return (err as Error).message;
  }
};

test('a required variable left empty (NAME= in .env) is "not set", with how to make one', () => {
  expect(problem({ EXECUTOR_SHARED_SECRET: '' })).toBe(
    'Configuration is incomplete: EXECUTOR_SHARED_SECRET is not set (the secret the Notion automation sends with each webhook; generate one with: openssl rand -hex 32). Set them in .env or the Vercel dashboard.',
  );
  expect(problem({ EXECUTOR_SHARED_SECRET: '   ', APP_BASE_URL: '' })).toMatch(/EXECUTOR_SHARED_SECRET is not set .*; APP_BASE_URL is not set \(the public URL/);
  expect(problem({ EXECUTOR_SHARED_SECRET: 'short' })).toMatch(/EXECUTOR_SHARED_SECRET must be at least 16 characters \(the secret .*generate one with: openssl rand -hex 32\)/);
});

test('a NOTION_TOKEN too short says where the real one is, in a complete sentence', () => {
  const message = problem({ NOTION_TOKEN: 'abc' });
  expect(message).toContain('NOTION_TOKEN is too short for a Notion integration secret (it starts with ntn_ or secret_;');
  expect(message).toContain('Internal Integration Secret)');
  expect(message).not.toMatch(/with:\s*\)|with:\s*$|openssl/);
  expect(problem({ NOTION_TOKEN: 'ntn_0123456789abcdefghij' })).toBe('no error');
});
