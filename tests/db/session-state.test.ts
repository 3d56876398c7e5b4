import fs from 'node:fs';
import path from 'node:path';
import { listMigrations, MIGRATIONS_DIR } from '../../scripts/db/migrate';

/**
 * Through a transaction pooler (Supabase's port 6543) each transaction may run on another
 * server connection, and the next client gets the connection as it was left. So no code keeps
 * anything in a session between transactions: no session advisory lock, no session SET or
 * set_config, no named prepared statement, no LISTEN, no temp table that outlives its
 * transaction. tests/e2e/pooler.test.ts checks the server connections after a real send; this
 * reads the code, for the paths that test does not take.
 */
const ROOT = path.resolve(__dirname, '..', '..');

type Rule = [string, RegExp | ((text: string) => boolean)];

/** A temp table neither ON COMMIT DROP nor dropped further on in the same text. */
function tempTableKept(text: string): boolean {
  return [...text.matchAll(/\bcreate\s+(?:temp|temporary)\s+table\s+(?:if\s+not\s+exists\s+)?(\w+)([^;]*)/gi)].some(
    ([, name, rest]) => !/\bon\s+commit\s+drop\b/i.test(rest!) && !new RegExp(`\\bdrop\\s+table\\s+(if\\s+exists\\s+)?[^;]*\\b${name}\\b`, 'i').test(text),
  );
}

const SQL_SESSION_STATE: Rule[] = [
  ['a session advisory lock (use pg_advisory_xact_lock)', /\bpg_(try_)?advisory_lock(_shared)?\s*\(/i],
  ['a session set_config (pass true: local to the transaction)', /\bset_config\s*\([^;]*,\s*false\s*\)/i],
  ['a session SET (use SET LOCAL)', /\bset\s+session\b/i],
  ['a temp table kept after the transaction (add ON COMMIT DROP, or drop it)', tempTableKept],
  ['LISTEN', /\blisten\s+\w/i],
  ['a named prepared statement', /\bprepare\s+\w+\s*(\([^)]*\))?\s+as\b/i],
];

const TS_SESSION_STATE: Rule[] = [
  ['a session advisory lock (use pg_advisory_xact_lock)', /\bpg_(try_)?advisory_lock(_shared)?\s*\(/i],
  ['a named prepared statement (a query config with `name`)', /\.query\(\s*\{[^}]*\bname\s*:/],
  ['a session statement sent on its own', /\.query\(\s*['"`]\s*(set\s+(?!local\b)|listen\b|prepare\b|create\s+temp)/i],
];

function tsFiles(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) return tsFiles(rel);
    return /\.ts$/.test(e.name) ? [rel] : [];
  });
}

function findings(files: [string, string][], rules: Rule[]): string[] {
  const breaks = (rule: Rule[1], text: string) => (rule instanceof RegExp ? rule.test(text) : rule(text));
  return files.flatMap(([name, text]) => rules.filter(([, rule]) => breaks(rule, text)).map(([what]) => `${name}: ${what}`));
}

test('no SQL function or migration keeps state in the session', () => {
  const sql: [string, string][] = [
    ['supabase/sql-functions.sql', fs.readFileSync(path.join(ROOT, 'supabase/sql-functions.sql'), 'utf8')],
    ...listMigrations().map((m): [string, string] => [path.join(path.relative(ROOT, MIGRATIONS_DIR), m.file), m.sql]),
  ];
  expect(findings(sql, SQL_SESSION_STATE)).toEqual([]);
});

test('no TypeScript that talks to the database keeps state in the session', () => {
  const files = ['lib', 'api', 'scripts'].flatMap((d) => tsFiles(d)).map((f): [string, string] => [f, fs.readFileSync(path.join(ROOT, f), 'utf8')]);
  expect(files.length).toBeGreaterThan(20);
  expect(findings(files, TS_SESSION_STATE)).toEqual([]);
});

test('the rules catch what they are for', () => {
  const bad: [string, string][] = [
    ['lock.sql', 'select pg_advisory_lock(1);'],
    ['config.sql', "perform set_config('app.x', 'y', false);"],
    ['temp.sql', 'create temp table t (x int);'],
    ['lock.ts', "await client.query('select pg_advisory_lock(7212001)');"],
    ['named.ts', "await pool.query({ name: 'fetch', text: 'select 1' });"],
    ['set.ts', "await client.query('SET statement_timeout = 0');"],
  ];
  const good: [string, string][] = [
    ['xact.sql', "perform pg_advisory_xact_lock(1); perform set_config('app.x', 'y', true); create temp table t (x int) on commit drop;"],
    ['dropped.sql', 'create temporary table map (x int); insert into map values (1); drop table map;'],
    ['local.ts', "await client.query('set local statement_timeout = 0'); await client.query(`select pg_advisory_xact_lock(1)`);"],
  ];
  expect(findings(bad, [...SQL_SESSION_STATE, ...TS_SESSION_STATE]).map((f) => f.split(':')[0])).toEqual(
    expect.arrayContaining(bad.map(([name]) => name)),
  );
  expect(findings(good, [...SQL_SESSION_STATE, ...TS_SESSION_STATE])).toEqual([]);
});
