import { claimNotionRefresh } from '../../lib/feedback/store';
import { createTestDatabase, type TestDatabase, STORED_LETTER } from '../helpers/db';

/** The feedback migration's objects are closed to the browser roles and open to the executor. */

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t.drop();
});

const FUNCTIONS = [
  'select * from public.apply_ses_event(null, null, null, null, null, null, null, null, null, null, null, null, null, null, null)',
  'select * from public.mailout_feedback_stats(null)',
  'select * from public.claim_notion_refresh(null, null)',
  'select * from public.claim_pending_notion_refreshes(null, null)',
];

async function tryAs(role: string, sql: string): Promise<string> {
  const c = await t.pool.connect();
  try {
    await c.query('begin');
    await c.query(`set local role ${role}`);
    await c.query(sql);
    return 'ok';
  } catch (err) {
    return (err as { code?: string }).code ?? 'error';
  } finally {
    await c.query('rollback').catch(() => undefined);
    c.release();
  }
}

test.each(['anon', 'authenticated'])('%s can neither execute the feedback functions nor touch notion_refresh', async (role) => {
  for (const sql of FUNCTIONS) expect({ sql, code: await tryAs(role, sql) }).toEqual({ sql, code: '42501' });
  expect(await tryAs(role, 'select * from public.notion_refresh')).toBe('42501');
  expect(await tryAs(role, `insert into public.notion_refresh values ('x', now(), false)`)).toBe('42501');
});

test('service_role may execute them (NULL arguments are refused by the functions, not by privileges)', async () => {
  for (const sql of FUNCTIONS) expect({ sql, code: await tryAs('service_role', sql) }).not.toEqual({ sql, code: '42501' });
  expect(await tryAs('service_role', 'select * from public.notion_refresh')).toBe('ok');
});

test('notion_refresh has row level security on', async () => {
  const { rows } = await t.pool.query(`select relrowsecurity from pg_class where relname = 'notion_refresh'`);
  expect(rows[0].relrowsecurity).toBe(true);
});

test('claim_notion_refresh: 30 concurrent callers on separate connections, exactly one refreshes', async () => {
  await t.ledger.claim('8027c6e1-cf8e-857a-a8be-12438c46eb13', { leaseSeconds: 60, content: STORED_LETTER });
  const clients = await Promise.all(Array.from({ length: 30 }, () => t.connect()));
  const rows = await Promise.all(
    clients.map((c) => c.query(`select * from claim_notion_refresh('8027c6e1-cf8e-857a-a8be-12438c46eb13', 10)`).then((r) => r.rows[0].should_refresh as boolean)),
  );
  expect(rows.filter(Boolean)).toHaveLength(1);
  const { rows: state } = await t.pool.query(`select pending from notion_refresh where mailout_id = '8027c6e1-cf8e-857a-a8be-12438c46eb13'`);
  expect(state).toEqual([{ pending: true }]);
});

test('claim_notion_refresh is false for a mailout that does not exist, and true again once the interval passed', async () => {
  expect(await claimNotionRefresh(t.db, 'no-such-mailout')).toBe(false);
  await t.ledger.claim('4d9bd5f9-9341-8729-89c6-9efffb2de59c', { leaseSeconds: 60, content: STORED_LETTER });
  expect(await claimNotionRefresh(t.db, '4d9bd5f9-9341-8729-89c6-9efffb2de59c', 10)).toBe(true);
  expect(await claimNotionRefresh(t.db, '4d9bd5f9-9341-8729-89c6-9efffb2de59c', 10)).toBe(false);
  await t.pool.query(`update notion_refresh set refreshed_at = now() - interval '10 seconds' where mailout_id = '4d9bd5f9-9341-8729-89c6-9efffb2de59c'`);
  expect(await claimNotionRefresh(t.db, '4d9bd5f9-9341-8729-89c6-9efffb2de59c', 10)).toBe(true);
  expect(await claimNotionRefresh(t.db, '4d9bd5f9-9341-8729-89c6-9efffb2de59c', 0)).toBe(true);
});
