/**
 * `npm run bench`: every benchmark in scripts/bench/, printed as figures. Targets live here,
 * never in timed tests. `npm run bench -- ledger` runs only the files whose name matches.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface Figure {
  name: string;
  value: number;
  unit: string;
  /** The goal, as text (e.g. "< 2000 ms"), and whether the figure meets it. */
  goal?: string;
  ok?: boolean;
  note?: string;
}

export type Bench = () => Promise<Figure[]>;

function format(f: Figure): string {
  const value = Number.isInteger(f.value) ? String(f.value) : f.value.toFixed(f.value < 10 ? 3 : 1);
  const goal = f.goal ? `  goal ${f.goal} ${f.ok === undefined ? '' : f.ok ? 'MET' : 'MISSED'}` : '';
  return `  ${f.name.padEnd(64)} ${value.padStart(12)} ${f.unit}${goal}${f.note ? `  (${f.note})` : ''}`;
}

async function main(): Promise<void> {
  const filter = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const dir = path.join(__dirname, 'bench');
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.ts'))
    .filter((f) => filter.length === 0 || filter.some((x) => f.includes(x)))
    .sort();
  let missed = 0;
  for (const file of files) {
    const mod = (await import(path.join(dir, file))) as { default?: Bench; run?: Bench };
    const bench = mod.run ?? mod.default;
    if (typeof bench !== 'function') continue;
    console.log(`\n${file.replace(/\.ts$/, '')}`);
    const started = Date.now();
    for (const f of await bench()) {
      console.log(format(f));
      if (f.ok === false) missed += 1;
    }
    console.log(`  (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  }
  console.log(`\n${missed === 0 ? 'every goal met' : `${missed} goal(s) missed`}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
