import fs from 'node:fs';
import path from 'node:path';
import { architectureSection, fileIn, importGraph, importsOf, pathsNamed, resolve, ROOT, sourceFiles, specifiersOf, type Graph } from './import-graph';

/**
 * The layers of docs/ARCHITECTURE.md ("## Layers"), held: a file imports only from its own
 * layer or a lower one, and no import cycle exists (type imports count: they tie the files'
 * meanings together just the same). What ships (lib/, api/) imports no tool or test, and no
 * tool imports a test.
 */

interface Layer {
  rank: number;
  name: string;
  paths: string[];
}

function documentedLayers(): Layer[] {
  return [...architectureSection('Layers').matchAll(/^(\d+)\. \*\*([^*]+)\*\*:(.*)$/gm)].map((m) => ({
    rank: Number(m[1]),
    name: m[2]!,
    paths: pathsNamed(m[3]!),
  }));
}

/** The layer of a file: the one with the longest path that is the file or a folder holding it. */
function layerOf(layers: Layer[], file: string): Layer | undefined {
  let best: { layer: Layer; length: number } | undefined;
  for (const layer of layers) {
    for (const p of layer.paths) {
      if (fileIn(file, p) && (!best || p.length > best.length)) best = { layer, length: p.length };
    }
  }
  return best?.layer;
}

/** Folders a folder's files may never import from, whatever the layers say. */
const FORBIDDEN: { from: string; to: string[] }[] = [
  { from: 'lib/', to: ['scripts/', 'tests/'] },
  { from: 'api/', to: ['scripts/', 'tests/'] },
  { from: 'scripts/', to: ['tests/'] },
];

function forbiddenArrows(graph: Graph): string[] {
  const arrows: string[] = [];
  for (const [from, targets] of graph) {
    for (const rule of FORBIDDEN.filter((r) => from.startsWith(r.from))) {
      for (const to of targets) if (rule.to.some((dir) => to.startsWith(dir))) arrows.push(`${from} → ${to}`);
    }
  }
  return arrows.sort();
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

test('lib/ and api/ import nothing from scripts/ or tests/, and scripts/ nothing from tests/', () => {
  expect(forbiddenArrows(importGraph())).toEqual([]);
});

test('the tools sit above the endpoints and below the commands', () => {
  const rank = (file: string) => layerOf(documentedLayers(), file)!.rank;
  expect(rank('api/send-mailout.ts')).toBeLessThan(rank('scripts/local/stack.ts'));
  for (const tool of ['scripts/local/stack.ts', 'scripts/db/migrate.ts', 'scripts/setup/aws.ts', 'scripts/doctor/doctor.ts', 'scripts/fakes/ses.ts', 'scripts/lib/env.ts']) {
    expect(rank(tool)).toBeLessThan(rank('scripts/start.ts'));
  }
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

  test('an arrow from lib/ or api/ into scripts/ or tests/, or from scripts/ into tests/, is reported', () => {
    const graph: Graph = new Map([
      ['lib/a.ts', ['scripts/local/stack.ts', 'lib/b.ts']],
      ['api/x.ts', ['tests/helpers/db.ts', 'lib/a.ts']],
      ['scripts/bench/y.ts', ['tests/fakes/sqs.ts', 'scripts/fakes/ses.ts', 'lib/a.ts']],
    ]);
    expect(forbiddenArrows(graph)).toEqual(['api/x.ts → tests/helpers/db.ts', 'lib/a.ts → scripts/local/stack.ts', 'scripts/bench/y.ts → tests/fakes/sqs.ts']);
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
    expect(importsOf('scripts/start.ts')).toContain('scripts/local/demo.ts');
    expect(importsOf('lib/vercel-functions.ts')).toEqual([]);
  });
});
