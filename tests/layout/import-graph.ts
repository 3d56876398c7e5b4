import fs from 'node:fs';
import path from 'node:path';

/** The relative imports between the project's own TypeScript files, as the layout tests read them. */

export const ROOT = path.resolve(__dirname, '../..');
const SOURCES = ['lib', 'api', 'scripts'];

export type Graph = Map<string, string[]>;

/** Every .ts file under `dirs`, repository-relative. */
export function sourceFiles(dirs: string[] = SOURCES): string[] {
  return dirs.flatMap((dir) =>
    fs
      .readdirSync(path.join(ROOT, dir), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .map((f) => `${dir}/${f}`),
  );
}

/** A relative specifier as the file it names (`.js` written for `.ts`, a folder for its index.ts); null for other files. */
export function resolve(from: string, specifier: string): string | null {
  const base = path.posix.join(path.posix.dirname(from), specifier.replace(/\.js$/, ''));
  for (const candidate of [`${base}.ts`, `${base}/index.ts`, base]) {
    if (candidate.endsWith('.ts') && fs.existsSync(path.join(ROOT, candidate))) return candidate;
  }
  return null;
}

/** Every import of a file as written, a package or a relative path: static, re-exports and dynamic `import('…')`. */
export function specifiersOf(file: string): string[] {
  const code = fs.readFileSync(path.join(ROOT, file), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
  return [...new Set([...code.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|^import\s+)'([^']+)'/gm)].map((m) => m[1]!))];
}

/** Every relative import of a file, as the file it names. */
export function importsOf(file: string): string[] {
  const specifiers = specifiersOf(file).filter((s) => /^\.{1,2}\//.test(s));
  return [...new Set(specifiers.map((s) => resolve(file, s)).filter((f): f is string => f !== null))];
}

export function importGraph(): Graph {
  return new Map(sourceFiles().map((f) => [f, importsOf(f)]));
}

/** The text of a `## ` section of docs/ARCHITECTURE.md, up to the next one. */
export function architectureSection(title: string): string {
  const doc = fs.readFileSync(path.join(ROOT, 'docs/ARCHITECTURE.md'), 'utf8');
  return new RegExp(`^## ${title}\\n([\\s\\S]*?)(?=^## )`, 'm').exec(doc)?.[1] ?? '';
}

/** The repository paths a piece of documentation names in backquotes (`lib/x.ts`, `lib/dir/`). */
export function pathsNamed(text: string): string[] {
  return [...text.matchAll(/`([^`]+)`/g)].map((p) => p[1]!).filter((p) => /^[a-z]+\/([\w./-]*)$/.test(p));
}

/** Whether a file is the path, or lies in it when the path is a folder (ends in `/`). */
export function fileIn(file: string, p: string): boolean {
  return p.endsWith('/') ? file.startsWith(p) : file === p;
}
