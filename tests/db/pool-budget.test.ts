import fs from 'node:fs';
import path from 'node:path';
import type { Pool } from 'pg';
import { getDb } from '../../lib/db';
import { createLedger } from '../../lib/db/ledger';
import { FUNCTION_POOLS, IDLE_TIMEOUT_MS, SMALLEST_COMPUTE, plannedPoolerClients } from '../../lib/db/pool-budget';
import { SEND_CONNECTIONS } from '../../lib/send/start';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

const API = path.resolve(__dirname, '..', '..', 'api');

function apiFiles(dir = API): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? apiFiles(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

describe('each function gets the database pool sized for it', () => {
  test.each(apiFiles().map((f) => [path.relative(API, f), f]))('api/%s asks for the pool of the function it is', (_name, file) => {
    const source = fs.readFileSync(file, 'utf8');
    const handlers = new Set([...source.matchAll(/handle\('([^']+)'/g)].map((m) => m[1]!));
    const apps = [...source.matchAll(/getApp\(([^)]*)\)/g)].map((m) => m[1]);
    expect(handlers.size).toBe(1);
    const [fn] = handlers;
    expect(Object.keys(FUNCTION_POOLS)).toContain(fn);
    for (const arg of apps) expect(arg).toBe(`'${fn}'`);
  });

  test("the planned instances fit Supabase's smallest compute through its transaction pooler", () => {
    expect(plannedPoolerClients()).toBeLessThanOrEqual(SMALLEST_COMPUTE.poolerClients);
  });

  test("the send function's pool holds every connection the send loop uses at once", () => {
    expect(FUNCTION_POOLS['send-mailout'].connections).toBe(SEND_CONNECTIONS);
  });
});

describe('an idle Vercel instance releases its connections', () => {
  let t: TestDatabase;
  const CONTEXT = Symbol.for('@vercel/request-context');
  const saved = { env: { ...process.env }, context: (globalThis as Record<symbol, unknown>)[CONTEXT] };
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(async () => {
    process.env = saved.env;
    (globalThis as Record<symbol, unknown>)[CONTEXT] = saved.context;
    await t.drop();
  });

  test('after its last query the instance is kept alive until the pool has closed the idle connection, then holds none', async () => {
    // What Vercel's runtime gives a function: its region and URL, and a request context with waitUntil.
    process.env.VERCEL_URL = 'mailout-test.vercel.app';
    process.env.VERCEL_REGION = 'fra1';
    const kept: Promise<unknown>[] = [];
    (globalThis as Record<symbol, unknown>)[CONTEXT] = { get: () => ({ waitUntil: (p: Promise<unknown>) => kept.push(p) }) };

    const db = getDb({ db: { kind: 'postgres', url: t.url } }, 'health');
    const pool = (db as unknown as { pool: Pool }).pool;
    expect(pool.options).toMatchObject({ max: FUNCTION_POOLS.health.connections, idleTimeoutMillis: IDLE_TIMEOUT_MS });
    await createLedger(db).health();
    expect(pool.totalCount).toBe(1);
    expect(kept.length).toBeGreaterThan(0);
    await Promise.all(kept);
    expect({ open: pool.totalCount, idle: pool.idleCount }).toEqual({ open: 0, idle: 0 });
    await db.close();
  });
});
