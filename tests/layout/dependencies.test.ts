import fs from 'node:fs';
import path from 'node:path';

/** A runtime dependency is one the deployed code imports; what only tests and tools use is a devDependency. */

const ROOT = path.resolve(__dirname, '../..');
// Vercel's Node runtime, which builds the functions (README: Packages); never imported.
const RUNTIME_ONLY = ['@vercel/node'];

function packagesImportedBy(dirs: string[]): Set<string> {
  const names = new Set<string>();
  for (const dir of dirs) {
    for (const f of fs.readdirSync(path.join(ROOT, dir), { recursive: true, encoding: 'utf8' }).filter((x) => x.endsWith('.ts'))) {
      const code = fs.readFileSync(path.join(ROOT, dir, f), 'utf8');
      for (const m of code.matchAll(/(?:from\s+|import\s*\(\s*|require\(\s*)'([^.'][^']*)'/g)) {
        if (!m[1]!.startsWith('node:')) names.add(/^(@[^/]+\/[^/]+|[^/]+)/.exec(m[1]!)![1]!);
      }
    }
  }
  return names;
}

test('every runtime dependency is imported by lib/ or api/', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  const imported = packagesImportedBy(['lib', 'api']);
  expect(Object.keys(pkg.dependencies).filter((name) => !imported.has(name) && !RUNTIME_ONLY.includes(name))).toEqual([]);
});
