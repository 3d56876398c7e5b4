import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { listMigrations, migrate, MIGRATIONS_DIR } from '../../scripts/db/migrate';
import { createTestDatabase, STORED_LETTER, type TestDatabase, leaseOf } from '../helpers/db';

/** 20261201164500_subscriber_name: the recipient's name column is `name`; nothing stored is lost. */

const VERSION = '20261201164500';
const MAILOUT = '11111111-2222-4333-8444-555555555555';
let t: TestDatabase;

beforeAll(async () => {
  t = await createTestDatabase({ empty: true });
  const before = fs.mkdtempSync(path.join(os.tmpdir(), 'migrations-before-'));
  for (const m of listMigrations().filter((m) => m.version < VERSION)) fs.copyFileSync(path.join(MIGRATIONS_DIR, m.file), path.join(before, m.file));
  await migrate(t.url, before);
  fs.rmSync(before, { recursive: true, force: true });
  await t.pool.query(`insert into subscribers (email, from_name, source) values ('anna@example.com', 'Анна', 'old')`);
  await migrate(t.url);
});

afterAll(async () => {
  await t?.drop();
});

test('a name stored before the rename is the subscriber name, and claim_batch hands it out', async () => {
  const { rows } = await t.pool.query('select email, name from subscribers');
  expect(rows).toEqual([{ email: 'anna@example.com', name: 'Анна' }]);
  const claim = await t.ledger.claim(MAILOUT, { subject: 'Hi', leaseSeconds: 60, content: STORED_LETTER });
  const batch = await t.ledger.run(leaseOf(claim)).claimBatch({ limit: 10 });
  expect(batch.map((r) => [r.email, r.name])).toEqual([['anna@example.com', 'Анна']]);
});

test("import_subscribers reads each row's name, and still the previous importer's from_name", async () => {
  await t.db.rpc('import_subscribers', {
    p_rows: [
      { email: 'boris@example.com', name: 'Борис', source: 'new' },
      { email: 'vera@example.com', from_name: 'Вера', source: 'old-importer' },
    ],
    p_dry_run: false,
  });
  const { rows } = await t.pool.query(`select email, name from subscribers where email <> 'anna@example.com' order by email`);
  expect(rows).toEqual([
    { email: 'boris@example.com', name: 'Борис' },
    { email: 'vera@example.com', name: 'Вера' },
  ]);
});

test('a damaged name is still refused, under the renamed check', async () => {
  await expect(t.pool.query(`insert into subscribers (email, name) values ('x@example.com', 'Ан' || chr(65533) || 'а')`)).rejects.toMatchObject({
    constraint: 'subscribers_name_not_damaged',
  });
});
