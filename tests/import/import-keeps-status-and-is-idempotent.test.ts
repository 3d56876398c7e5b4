import { importSubscribersFromFile } from '../../lib/import';
import type { Db } from '../../lib/db/types';
import type { TestDatabase } from '../helpers/db';
import { csv, importTestBed } from './fixtures';

let t: TestDatabase;
const fx = importTestBed((db) => (t = db));

/** Every column of every subscriber: what "the same database" means here. */
async function snapshot(): Promise<Record<string, unknown>[]> {
  const { rows } = await t.pool.query('select * from subscribers order by id');
  return rows;
}

async function seed(email: string, status: string, name: string | null, source: string | null = 'old'): Promise<void> {
  await t.pool.query(
    `insert into subscribers (email, status, name, source, bounce_type, status_updated_at)
     values ($1, $2, $3, $4, $5, '2024-01-01T00:00:00Z')`,
    [email, status, name, source, status === 'bounced' ? 'Permanent' : null],
  );
}

const LIST = csv([
  ['email', 'name', 'campaign'],
  ['gone@example.com', 'Gone Again', 'news'],
  ['DEAD@example.com', 'Dead Again', 'news'],
  ['kept@example.com', 'New Name', 'news'],
  ['noname@example.com', 'Filled In', 'news'],
  ['fresh@example.com', 'Fresh', 'news'],
  ['Fresh@Example.com', 'Fresh dup', 'news'],
  ['broken', 'Broken', 'news'],
]);

test('unsubscribed and bounced subscribers stay so after a re-import that lists them; names are filled only where missing', async () => {
  await seed('Gone@example.com', 'unsubscribed', null);
  await seed('dead@example.com', 'bounced', 'Dead');
  await seed('kept@example.com', 'active', 'Kept Name');
  await seed('noname@example.com', 'active', '  ', null);
  const file = fx.write('list.csv', LIST);

  const s = await importSubscribersFromFile(t.db, file);
  expect(s).toMatchObject({ read: 7, valid: 5, inserted: 1, updated: 2, unchanged: 2, rejected: 1, duplicates: 1 });

  const { rows } = await t.pool.query(
    `select email, status, name, source, bounce_type, status_updated_at from subscribers order by lower(email)`,
  );
  const byEmail = Object.fromEntries(rows.map((r) => [r.email.toLowerCase(), r]));
  // The stored spelling, the status and its timestamp are untouched; the missing name is filled.
  expect(byEmail['gone@example.com']).toMatchObject({ email: 'Gone@example.com', status: 'unsubscribed', name: 'Gone Again', source: 'old' });
  expect(byEmail['gone@example.com'].status_updated_at.toISOString()).toBe('2024-01-01T00:00:00.000Z');
  expect(byEmail['dead@example.com']).toMatchObject({ email: 'dead@example.com', status: 'bounced', name: 'Dead', bounce_type: 'Permanent' });
  expect(byEmail['kept@example.com']).toMatchObject({ status: 'active', name: 'Kept Name', source: 'old' });
  expect(byEmail['noname@example.com']).toMatchObject({ status: 'active', name: 'Filled In', source: 'news' });
  expect(byEmail['fresh@example.com']).toMatchObject({ email: 'fresh@example.com', status: 'active', name: 'Fresh', source: 'news' });

  // Listing them again, as many times as one likes, never re-activates them.
  await importSubscribersFromFile(t.db, file);
  const { rows: after } = await t.pool.query(`select lower(email) as e, status from subscribers order by 1`);
  expect(after).toEqual([
    { e: 'dead@example.com', status: 'bounced' },
    { e: 'fresh@example.com', status: 'active' },
    { e: 'gone@example.com', status: 'unsubscribed' },
    { e: 'kept@example.com', status: 'active' },
    { e: 'noname@example.com', status: 'active' },
  ]);
});

test('idempotence: two imports of the same file leave the same database, the second reports all unchanged', async () => {
  await seed('gone@example.com', 'unsubscribed', null);
  const file = fx.write('idem.csv', LIST);
  const first = await importSubscribersFromFile(t.db, file, { chunkSize: 2 });
  const before = await snapshot();
  const second = await importSubscribersFromFile(t.db, file, { chunkSize: 2 });
  expect(await snapshot()).toEqual(before);
  expect(first).toMatchObject({ inserted: 4, updated: 1, unchanged: 0 });
  expect(second).toMatchObject({ read: 7, valid: 5, inserted: 0, updated: 0, unchanged: 5, rejected: 1, duplicates: 1 });
});

test('a dry run writes nothing and predicts exactly what the real import then does', async () => {
  await seed('gone@example.com', 'unsubscribed', null);
  await seed('kept@example.com', 'active', 'Kept Name');
  const file = fx.write('dry.csv', LIST);
  const before = await snapshot();
  const dry = await importSubscribersFromFile(t.db, file, { dryRun: true });
  expect(await snapshot()).toEqual(before);
  const real = await importSubscribersFromFile(t.db, file);
  const pick = ({ read, valid, inserted, updated, unchanged, rejected, duplicates }: typeof dry) => ({
    read, valid, inserted, updated, unchanged, rejected, duplicates,
  });
  expect(pick(dry)).toEqual(pick(real));
  expect(dry).toMatchObject({ dryRun: true, checkedAgainstDb: true, inserted: 3, updated: 1, unchanged: 1 });
});

test('a dry run without a database validates and counts', async () => {
  const file = fx.write('dry-nodb.csv', LIST);
  const s = await importSubscribersFromFile(null, file, { dryRun: true });
  expect(s).toMatchObject({ checkedAgainstDb: false, read: 7, valid: 5, rejected: 1, duplicates: 1, inserted: 0 });
  await expect(importSubscribersFromFile(null, file)).rejects.toThrow(/database is required/);
});

test('each call stays well under the PostgREST body limit, even with long names', async () => {
  const calls: number[] = [];
  const recording: Db = {
    kind: t.db.kind,
    rpc: (fn, args) => {
      calls.push(Buffer.byteLength(JSON.stringify(args)));
      return t.db.rpc(fn, args);
    },
    close: async () => undefined,
  };
  const rows = [['email', 'name']];
  for (let i = 0; i < 3000; i++) rows.push([`long${i}@example.com`, 'Ж'.repeat(190)]);
  const s = await importSubscribersFromFile(recording, fx.write('long.csv', csv(rows)));
  expect(s.inserted).toBe(3000);
  expect(calls.length).toBeGreaterThan(3);
  for (const bytes of calls) expect(bytes).toBeLessThan(600 * 1024);
});

test('a database failure stops the import with that error; the chunks before it stay and a re-run completes', async () => {
  let calls = 0;
  const failing: Db = {
    kind: t.db.kind,
    rpc: (fn, args) => {
      calls += 1;
      if (calls === 2) return Promise.reject(new Error('connection lost'));
      return t.db.rpc(fn, args);
    },
    close: async () => undefined,
  };
  const rows = [['email']];
  for (let i = 0; i < 50; i++) rows.push([`f${i}@example.com`]);
  const file = fx.write('fail.csv', csv(rows));
  await expect(importSubscribersFromFile(failing, file, { chunkSize: 10 })).rejects.toThrow('connection lost');
  const { rows: n } = await t.pool.query('select count(*)::int as n from subscribers');
  expect(n[0].n).toBe(10);
  const s = await importSubscribersFromFile(t.db, file, { chunkSize: 10 });
  expect(s).toMatchObject({ inserted: 40, unchanged: 10 });
});

describe('import_subscribers (the SQL function)', () => {
  test('takes a chunk with its own duplicates once and answers exact counts', async () => {
    await seed('a@example.com', 'bounced', null, null);
    const [r] = await t.db.rpc('import_subscribers', {
      p_rows: [
        { email: 'A@example.com', name: 'A', source: 's' },
        { email: 'b@example.com', name: null, source: null },
        { email: 'B@EXAMPLE.COM', name: 'B', source: 's' },
        { email: ' c@example.com ', name: ' ', source: '' },
      ],
    });
    expect(r).toEqual({ inserted: 2, updated: 1, unchanged: 0 });
    const { rows } = await t.pool.query('select email, status, name, source from subscribers order by lower(email)');
    expect(rows).toEqual([
      { email: 'a@example.com', status: 'bounced', name: 'A', source: 's' },
      { email: 'b@example.com', status: 'active', name: null, source: null },
      { email: 'c@example.com', status: 'active', name: null, source: null },
    ]);
  });

  test('refuses what is not a JSON array of addresses, and oversized chunks, with 22023', async () => {
    for (const p_rows of [null, { email: 'x@example.com' }, [{ email: 'not an address' }], [{ name: 'no email' }]]) {
      await expect(t.db.rpc('import_subscribers', { p_rows })).rejects.toMatchObject({ code: 'bad_request', details: { sqlstate: '22023' } });
    }
    const big = Array.from({ length: 10001 }, (_, i) => ({ email: `x${i}@example.com` }));
    await expect(t.db.rpc('import_subscribers', { p_rows: big })).rejects.toThrow(/at most 10000/);
    const { rows } = await t.pool.query('select count(*)::int as n from subscribers');
    expect(rows[0].n).toBe(0);
  });

  test('two concurrent imports of overlapping chunks insert each address once', async () => {
    const chunk = (from: number) => Array.from({ length: 500 }, (_, i) => ({ email: `c${from + i}@example.com`, name: null, source: null }));
    const results = await Promise.all([
      t.db.rpc<{ inserted: number }>('import_subscribers', { p_rows: chunk(0) }),
      t.db.rpc<{ inserted: number }>('import_subscribers', { p_rows: chunk(250) }),
    ]);
    expect(results.reduce((n, r) => n + Number(r[0]!.inserted), 0)).toBe(750);
    const { rows } = await t.pool.query('select count(*)::int as n from subscribers');
    expect(rows[0].n).toBe(750);
  });
});
