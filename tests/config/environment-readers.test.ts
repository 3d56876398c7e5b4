import fs from 'node:fs';
import path from 'node:path';

/**
 * The environment is read in one place: lib/config/ (every variable, blank meaning unset, and
 * `env` for a tool's own variable), and the scripts' loader that fills it from `.env`. Anywhere
 * else a read is a second trim-and-default that drifts from the first. Handing the whole
 * environment on (a child process's, the one the local stack fills in) reads no variable.
 */

const ROOT = path.resolve(__dirname, '..', '..');

const READERS: Record<string, string> = {
  'lib/config/': 'the configuration',
  'scripts/lib/env.ts': "the scripts' loader of .env",
  'lib/log.ts': 'the logger: it starts before the configuration (LOG_LEVEL), a layer below it',
};

/** Each place a source reads a variable of process.env, or takes the environment to read from it. */
function environmentReads(code: string): string[] {
  const text = code.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const patterns = [
    /process\.env(?:\.\w+\b|\[[^\]]+\])(?!\s*(?:=(?!=)|\|\|=|\?\?=))/g, // process.env.X, process.env[name], not assigned
    /(?:const|let|var)\s+[\w{}\s,:]+(?::[^=]+)?=\s*process\.env\b(?!\s*[.[])/g, // const env = process.env, const { X } = process.env
    /\(\s*process\.env\s*\)/g, // loadConfig(process.env)
  ];
  return patterns.flatMap((re) => [...text.matchAll(re)].map((m) => m[0]));
}

function sources(): string[] {
  return ['lib', 'api', 'scripts'].flatMap((dir) =>
    fs
      .readdirSync(path.join(ROOT, dir), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .map((f) => path.join(dir, f)),
  );
}

test('only lib/config/ and the scripts\' loader read process.env (lib/, api/ and scripts/, benchmarks included)', () => {
  const readers = Object.keys(READERS);
  const found = sources()
    .filter((file) => !readers.some((r) => (r.endsWith('/') ? file.startsWith(r) : file === r)))
    .flatMap((file) => environmentReads(fs.readFileSync(path.join(ROOT, file), 'utf8')).map((read) => `${file}: ${read}`));
  expect(found).toEqual([]);
  // Each reader named still reads it (a stale entry is removed).
  for (const reader of readers) {
    const files = sources().filter((f) => (reader.endsWith('/') ? f.startsWith(reader) : f === reader));
    expect({ reader, reads: files.some((f) => /process\.env\b/.test(fs.readFileSync(path.join(ROOT, f), 'utf8'))) }).toEqual({ reader, reads: true });
  }
});

test('the scan finds each way of reading and passes over handing the environment on', () => {
  expect(environmentReads("const v = process.env.PORT?.trim();")).toHaveLength(1);
  expect(environmentReads("const raw = process.env[name];")).toHaveLength(1);
  expect(environmentReads("const env = process.env;\nconst { A, B } = process.env;")).toHaveLength(2);
  expect(environmentReads("const config = loadConfig(process.env);")).toHaveLength(1);
  expect(environmentReads("if (process.env.X === '1') run();")).toHaveLength(1);
  expect(
    environmentReads(
      "process.env.DATABASE_URL = url;\nconst child = { ...process.env, X: '1' };\nconst target = opts.env ?? process.env;\n// process.env.X in a comment\nprocess.env.LOG_LEVEL ??= 'warn';",
    ),
  ).toEqual([]);
});
