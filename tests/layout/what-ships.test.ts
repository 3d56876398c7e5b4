import fs from 'node:fs';
import path from 'node:path';
import { architectureSection, fileIn, importGraph, pathsNamed, ROOT, sourceFiles, type Graph } from './import-graph';

/**
 * The tree shows what ships: every file under lib/ is reached (imports followed, type imports
 * too) from api/ or from one of the operator use cases docs/ARCHITECTURE.md lists ("Operator
 * use cases:" under "## Modules"); what only a developer's machine runs lives in scripts/.
 */

function operatorUseCases(): string[] {
  const list = /^Operator use cases:\n\n((?:- .*\n)+)/m.exec(architectureSection('Modules'))?.[1] ?? '';
  return list.split('\n').flatMap((line) => pathsNamed(line).slice(0, 1));
}

/** Every file reached from the roots by following imports. */
function reachedFrom(graph: Graph, roots: string[]): Set<string> {
  const reached = new Set<string>();
  const visit = (file: string): void => {
    if (reached.has(file)) return;
    reached.add(file);
    for (const next of graph.get(file) ?? []) visit(next);
  };
  roots.forEach(visit);
  return reached;
}

/** The files of `dir` that neither an endpoint nor a use case reaches. */
function unshipped(graph: Graph, useCases: string[], dir = 'lib/'): string[] {
  const files = [...graph.keys()];
  const roots = files.filter((f) => f.startsWith('api/') || useCases.some((p) => fileIn(f, p)));
  const reached = reachedFrom(graph, roots);
  return files.filter((f) => f.startsWith(dir) && !reached.has(f)).sort();
}

test('docs/ARCHITECTURE.md lists the operator use cases, each a path under lib/ that exists', () => {
  const useCases = operatorUseCases();
  expect(useCases).toEqual(expect.arrayContaining(['lib/import/', 'lib/feedback/redrive.ts', 'lib/send/resend-unknown.ts']));
  for (const p of useCases) {
    expect(p.startsWith('lib/')).toBe(true);
    expect(fs.existsSync(path.join(ROOT, p))).toBe(true);
  }
});

test('every file under lib/ is reached from api/ or from an operator use case', () => {
  expect(sourceFiles(['lib']).length).toBeGreaterThan(0);
  expect(unshipped(importGraph(), operatorUseCases())).toEqual([]);
});

describe('the check itself', () => {
  const graph: Graph = new Map([
    ['api/a.ts', ['lib/x.ts']],
    ['lib/x.ts', ['lib/y.ts']],
    ['lib/y.ts', []],
    ['lib/ops/run.ts', ['lib/z.ts']],
    ['lib/z.ts', []],
    ['lib/tool.ts', ['lib/x.ts']],
    ['scripts/start.ts', ['lib/tool.ts']],
  ]);

  test('a lib file reached only from scripts/ is reported; one reached through imports from api/ or a use case is not', () => {
    expect(unshipped(graph, ['lib/ops/'])).toEqual(['lib/tool.ts']);
    expect(unshipped(graph, [])).toEqual(['lib/ops/run.ts', 'lib/tool.ts', 'lib/z.ts']);
  });
});
