import { migrate } from '../../scripts/db/migrate';
import { createTestDatabase, migrateBefore, type TestDatabase } from '../helpers/db';

/**
 * 20261203100000_mailout_origin: a letter stored before the migration gets its origin from its
 * id (a Markdown file's id is a version-8 name-based UUID, a Notion page's is version 4), so
 * only Notion mailouts keep writing back to their page.
 */
const VERSION = '20261203100000';
const PAGE = '2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d';
const FILE = '38bbf0ae-d9ad-8eeb-a86b-c67645e91032';
const LETTERLESS = '6f7a8b9c-0d1e-4f2a-8b3c-4d5e6f7a8b9c';
let t: TestDatabase;

beforeAll(async () => {
  t = await createTestDatabase({ empty: true });
  await migrateBefore(t, VERSION);
  const letter = JSON.stringify({ subject: 'Old', html: '<p>Old</p>', text: 'Old', warnings: [] });
  await t.pool.query(
    `insert into mailouts (id, status, content) values ($1, 'sent', $3::jsonb), ($2, 'paused', $3::jsonb), ($4, 'failed', null)`,
    [PAGE, FILE, letter, LETTERLESS],
  );
  await migrate(t.url);
});
afterAll(async () => {
  await t?.drop();
});

test('a letter stored before the migration is a Notion page unless its id is a name-based (file) id; the letter itself is kept', async () => {
  expect(await t.ledger.origin(PAGE)).toBe('notion');
  expect(await t.ledger.origin(FILE)).toBe('file');
  expect(await t.ledger.origin(LETTERLESS)).toBeNull();
  expect(await t.ledger.origin('00000000-0000-4000-8000-000000000000')).toBeNull();
  const { rows } = await t.pool.query(`select content->>'html' as html from mailouts where id = $1`, [PAGE]);
  expect(rows[0].html).toBe('<p>Old</p>');
});
