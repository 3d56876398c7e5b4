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
