import fs from 'node:fs';
import path from 'node:path';

/** Names that say what a thing is: an index.ts only re-exports; no reference to a document outside the repository. */

const ROOT = path.resolve(__dirname, '../..');

function files(dir: string, ext: RegExp): string[] {
  return fs
    .readdirSync(path.join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => ext.test(f))
    .map((f) => path.join(dir, f));
}

test('every index.ts under lib/ only re-exports (the code lives in a file named after it)', () => {
  const holding = files('lib', /(^|\/)index\.ts$/).filter((f) => {
    const code = fs
      .readFileSync(path.join(ROOT, f), 'utf8')
      .replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '')
      .replace(/export (type )?(\{[^}]*\}|\*) from '[^']+';/g, '');
    return code.trim() !== '';
  });
  expect(holding).toEqual([]);
});

test('no source, migration or document refers to a design document outside the repository', () => {
  const all = [...files('lib', /\.ts$/), ...files('api', /\.ts$/), ...files('scripts', /\.ts$/), ...files('supabase', /\.sql$/), ...files('docs', /\.md$/), 'README.md'];
  const refs = all.filter((f) => /DESIGN\b|§|\.\.\/shared/.test(fs.readFileSync(path.join(ROOT, f), 'utf8')));
  expect(refs).toEqual([]);
});

test('every migration a source, test or document cites exists', () => {
  const all = [...files('lib', /\.ts$/), ...files('api', /\.ts$/), ...files('scripts', /\.ts$/), ...files('tests', /\.ts$/), ...files('docs', /\.md$/), 'README.md'];
  const migrations = fs.readdirSync(path.join(ROOT, 'supabase/migrations'));
  const missing = all.flatMap((f) =>
    [...fs.readFileSync(path.join(ROOT, f), 'utf8').matchAll(/(?:migrations?[ /]|\b)(20\d{12})(?:_\w+)?/g)]
      .filter((m) => /^migrations?[ /]/.test(m[0]) || m[0].includes('_'))
      .map((m) => m[1]!)
      .filter((stamp) => !migrations.some((name) => name.startsWith(`${stamp}_`)))
      .map((stamp) => `${f}: ${stamp}`),
  );
  expect(missing).toEqual([]);
});
