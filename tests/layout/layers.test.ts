import fs from 'node:fs';
import path from 'node:path';

/**
 * The layers of docs/ARCHITECTURE.md ("## Layers"), held: a file imports only from its own
 * layer or a lower one, and no import cycle exists (type imports count: they tie the files'
 * meanings together just the same).
 */

const ROOT = path.resolve(__dirname, '../..');
const SOURCES = ['lib', 'api', 'scripts'];

interface Layer {
  rank: number;
  name: string;
  paths: string[];
}

type Graph = Map<string, string[]>;

function documentedLayers(): Layer[] {
  const doc = fs.readFileSync(path.join(ROOT, 'docs/ARCHITECTURE.md'), 'utf8');
  const section = /^## Layers\n([\s\S]*?)(?=^## )/m.exec(doc)?.[1] ?? '';
  return [...section.matchAll(/^(\d+)\. \*\*([^*]+)\*\*:(.*)$/gm)].map((m) => ({
    rank: Number(m[1]),
    name: m[2]!,
    paths: [...m[3]!.matchAll(/`([^`]+)`/g)].map((p) => p[1]!).filter((p) => /^[a-z]+\/([\w./-]*)$/.test(p)),
  }));
}

/** The layer of a file: the one with the longest path that is the file or a folder holding it. */
function layerOf(layers: Layer[], file: string): Layer | undefined {
  let best: { layer: Layer; length: number } | undefined;
  for (const layer of layers) {
    for (const p of layer.paths) {
      const hit = p.endsWith('/') ? file.startsWith(p) : file === p;
      if (hit && (!best || p.length > best.length)) best = { layer, length: p.length };
    }
  }
  return best?.layer;
}

function sourceFiles(): string[] {
  return SOURCES.flatMap((dir) =>
    fs
      .readdirSync(path.join(ROOT, dir), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .map((f) => `${dir}/${f}`),
  );
}

/** A relative specifier as the file it names (`.js` written for `.ts`, a folder for its index.ts); null for other files. */
function resolve(from: string, specifier: string): string | null {
  const base = path.posix.join(path.posix.dirname(from), specifier.replace(/\.js$/, ''));
  for (const candidate of [`${base}.ts`, `${base}/index.ts`, base]) {
    if (candidate.endsWith('.ts') && fs.existsSync(path.join(ROOT, candidate))) return candidate;
  }
  return null;
}

/** Every import of a file as written, a package or a relative path: static, re-exports and dynamic `import('…')`. */
function specifiersOf(file: string): string[] {
  const code = fs.readFileSync(path.join(ROOT, file), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
  return [...new Set([...code.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|^import\s+)'([^']+)'/gm)].map((m) => m[1]!))];
}

/** Every relative import of a file, as the file it names. */
function importsOf(file: string): string[] {
  const specifiers = specifiersOf(file).filter((s) => /^\.{1,2}\//.test(s));
  return [...new Set(specifiers.map((s) => resolve(file, s)).filter((f): f is string => f !== null))];
}

/** The only packages the renderer uses: Markdown's lexer and the HTML sanitiser. */
const RENDERER_PACKAGES = ['marked', 'sanitize-html'];

/**
 * The imports of lib/render that leave the pure renderer: anything but lib/render itself, the
 * foundation and its two packages (so no node:fs, lib/notion, lib/db, lib/images, no network).
 */
function impureRendererImports(imports: Map<string, string[]>, layers: Layer[]): string[] {
  const allowed = (file: string, specifier: string): boolean => {
    if (!/^\.{1,2}\//.test(specifier)) return RENDERER_PACKAGES.some((p) => specifier === p || specifier.startsWith(`${p}/`));
    const target = path.posix.join(path.posix.dirname(file), specifier);
    return target.startsWith('lib/render/') || layerOf(layers, resolve(file, specifier) ?? `${target}.ts`)?.rank === 1;
  };
  return [...imports]
    .filter(([file]) => file.startsWith('lib/render/'))
    .flatMap(([file, specifiers]) => specifiers.filter((s) => !allowed(file, s)).map((s) => `${file} → ${s}`))
    .sort();
}

function importGraph(): Graph {
  return new Map(sourceFiles().map((f) => [f, importsOf(f)]));
}

function upwardArrows(graph: Graph, layers: Layer[]): string[] {
  const arrows: string[] = [];
  for (const [from, targets] of graph) {
    const own = layerOf(layers, from);
    for (const to of targets) {
      const theirs = layerOf(layers, to);
      if (own && theirs && theirs.rank > own.rank) arrows.push(`${from} (${own.name}) → ${to} (${theirs.name})`);
    }
  }
  return arrows.sort();
}

/** Each set of files that import one another in a circle (Tarjan's strongly connected components). */
function importCycles(graph: Graph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (stack.includes(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return cycles;
}

test('docs/ARCHITECTURE.md names the layers, numbered from the bottom', () => {
  const layers = documentedLayers();
  expect(layers.map((l) => l.rank)).toEqual(layers.map((_, i) => i + 1));
  expect(layers.length).toBeGreaterThanOrEqual(5);
  for (const layer of layers) for (const p of layer.paths) expect(fs.existsSync(path.join(ROOT, p))).toBe(true);
});

test('every source file is in a layer', () => {
  const layers = documentedLayers();
  expect(sourceFiles().filter((f) => !layerOf(layers, f))).toEqual([]);
});

test('no file imports from a layer above its own', () => {
  expect(upwardArrows(importGraph(), documentedLayers())).toEqual([]);
});

test('no import cycle', () => {
  expect(importCycles(importGraph())).toEqual([]);
});

test('lib/render is the pure renderer: it imports only lib/render, the foundation, marked and sanitize-html', () => {
  const renderer = sourceFiles().filter((f) => f.startsWith('lib/render/'));
  expect(renderer.length).toBeGreaterThan(0);
  expect(impureRendererImports(new Map(renderer.map((f) => [f, specifiersOf(f)])), documentedLayers())).toEqual([]);
});

describe('the checks themselves', () => {
  const layers: Layer[] = [
    { rank: 1, name: 'low', paths: ['lib/'] },
    { rank: 2, name: 'high', paths: ['lib/high.ts', 'lib/up/'] },
  ];

  test('the longest matching path decides a layer', () => {
    expect(layerOf(layers, 'lib/high.ts')?.name).toBe('high');
    expect(layerOf(layers, 'lib/up/x.ts')?.name).toBe('high');
    expect(layerOf(layers, 'lib/higher.ts')?.name).toBe('low');
    expect(layerOf(layers, 'api/x.ts')).toBeUndefined();
  });

  test('an arrow up is reported, arrows down and within a layer are not', () => {
    const graph: Graph = new Map([
      ['lib/a.ts', ['lib/high.ts', 'lib/b.ts']],
      ['lib/high.ts', ['lib/a.ts', 'lib/up/x.ts']],
    ]);
    expect(upwardArrows(graph, layers)).toEqual(['lib/a.ts (low) → lib/high.ts (high)']);
  });

  test('a cycle of two or three files is reported once, a chain is not', () => {
    const graph: Graph = new Map([
      ['a', ['b']],
      ['b', ['a', 'c']],
      ['c', ['d']],
      ['d', ['e']],
      ['e', ['c']],
      ['f', ['a']],
    ]);
    expect(importCycles(graph)).toEqual(expect.arrayContaining([['a', 'b'], ['c', 'd', 'e']]));
    expect(importCycles(graph)).toHaveLength(2);
  });

  test("a renderer's import of the file system, Notion, the database or image hosting is reported", () => {
    const foundation: Layer[] = [{ rank: 1, name: 'foundation', paths: ['lib/errors.ts', 'lib/letter/types.ts'] }, ...layers.map((l) => ({ ...l, rank: l.rank + 1 }))];
    const imports = new Map([
      ['lib/render/a.ts', ['./b', '../errors', '../letter/types', 'marked', 'sanitize-html', 'node:fs', 'fs', '../notion/read', '../db/ledger', '../images/hosts', '@notionhq/client']],
      ['lib/notion/read.ts', ['node:fs']],
    ]);
    expect(impureRendererImports(imports, foundation)).toEqual(
      ['lib/render/a.ts → ../db/ledger', 'lib/render/a.ts → ../images/hosts', 'lib/render/a.ts → ../notion/read', 'lib/render/a.ts → @notionhq/client', 'lib/render/a.ts → fs', 'lib/render/a.ts → node:fs'].sort(),
    );
  });

  test('type imports, re-exports and dynamic imports are arrows; a JSON file is not a source', () => {
    expect(importsOf('lib/db/ledger.ts')).toContain('lib/db/types.ts');
    expect(importsOf('lib/send/index.ts')).toContain('lib/send/loop.ts');
    expect(importsOf('scripts/start.ts')).toContain('lib/local/demo.ts');
    expect(importsOf('lib/vercel-functions.ts')).toEqual([]);
  });
});
