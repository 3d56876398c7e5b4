import { createServer } from 'node:http';
import { createSupabaseDb } from '../../lib/db/supabase';
import { createLedger } from '../../lib/db/ledger';
import type { Db } from '../../lib/db/types';
import { startFakePostgrest, type FakePostgrest } from '../../scripts/fakes/postgrest';
import { createTestDatabase, seedSubscribers, type TestDatabase, STORED_LETTER } from '../helpers/db';

const KEY = 'service-role-key-for-tests-0123456789';
let t: TestDatabase;
let rest: FakePostgrest;
let db: Db;
let ids: string[];

beforeAll(async () => {
  t = await createTestDatabase();
  ids = await seedSubscribers(t.pool, 12);
  rest = await startFakePostgrest(t.url, KEY);
  db = createSupabaseDb(rest.url, KEY);
});
afterAll(async () => {
  await rest.close();
  await t.drop();
});

test('calls POST /rest/v1/rpc/<function> with the service key and the named arguments as JSON', async () => {
  rest.requests.length = 0;
  await createLedger(db).claim('a1a40483-161d-8853-b6d0-4bd2ffdc9622', { subject: 'Привет 👋', leaseSeconds: 60, content: STORED_LETTER });
  expect(rest.requests).toHaveLength(1);
  const r = rest.requests[0]!;
  expect(r.method).toBe('POST');
  expect(r.path).toBe('/rest/v1/rpc/claim_mailout');
  expect(r.headers.apikey).toBe(KEY);
  expect(r.headers.authorization).toBe(`Bearer ${KEY}`);
  expect(String(r.headers['content-type'])).toMatch(/application\/json/);
  expect(r.body).toEqual({ p_mailout_id: 'a1a40483-161d-8853-b6d0-4bd2ffdc9622', p_subject: 'Привет 👋', p_lease_seconds: 60, p_content: STORED_LETTER });
});

test('the whole ledger cycle works through the Supabase adapter, with typed results', async () => {
  const c = await createLedger(db).claim('ebfc43a2-3d2e-890e-90a8-e0eabdee3952', { leaseSeconds: 60, content: STORED_LETTER });
  expect(c).toMatchObject({ outcome: 'claimed', recipients: 12, queued: 12 });
  expect(c.leaseUntil).toBeInstanceOf(Date);
  const batch = await createLedger(db).run({ mailoutId: 'ebfc43a2-3d2e-890e-90a8-e0eabdee3952', leaseToken: c.leaseToken!, leaseSeconds: 60 }).claimBatch({ limit: 50 });
  expect(batch).toHaveLength(12);
  expect(batch[0]).toEqual({ subscriberId: expect.any(String), email: expect.stringMatching(/@example\.com$/), name: expect.any(String) });
  const rec = await createLedger(db).run({ mailoutId: 'ebfc43a2-3d2e-890e-90a8-e0eabdee3952', leaseToken: c.leaseToken!, leaseSeconds: 60 }).record(batch.map((b) => ({ subscriberId: b.subscriberId, status: 'sent' as const, sesMessageId: `sb-${b.subscriberId}` })));
  expect(rec).toEqual({ recorded: 12, requeued: 0 });
  const fin = await createLedger(db).run({ mailoutId: 'ebfc43a2-3d2e-890e-90a8-e0eabdee3952', leaseToken: c.leaseToken!, leaseSeconds: 60 }).finish({ outcome: 'complete' });
  expect(fin).toMatchObject({ status: 'sent', sent: 12 });
  expect(fin.sentAt).toBeInstanceOf(Date);
  expect((await createLedger(db).claim('ebfc43a2-3d2e-890e-90a8-e0eabdee3952', { leaseSeconds: 60, content: STORED_LETTER })).outcome).toBe('already_sent');
});

test('a lost lease comes back as the same error code as through a direct connection', async () => {
  await expect(
    createLedger(db).run({ mailoutId: 'ebfc43a2-3d2e-890e-90a8-e0eabdee3952', leaseToken: '00000000-0000-0000-0000-000000000000', leaseSeconds: 60 }).claimBatch({ limit: 5 }),
  ).rejects.toMatchObject({ code: 'lease_lost', message: expect.stringContaining('claim_batch') });
  await expect(
    t.ledger.run({ mailoutId: 'ebfc43a2-3d2e-890e-90a8-e0eabdee3952', leaseToken: '00000000-0000-0000-0000-000000000000', leaseSeconds: 60 }).claimBatch({ limit: 5 }),
  ).rejects.toMatchObject({ code: 'lease_lost' });
});

test('invalid arguments map to bad_request; a wrong key and a missing function to config errors that say what to fix', async () => {
  await expect(createLedger(db).claim('', { leaseSeconds: 60, content: STORED_LETTER })).rejects.toMatchObject({ code: 'bad_request' });
  const wrongKey = createSupabaseDb(rest.url, 'not-the-key-0123456789abcdef');
  await expect(createLedger(wrongKey).subscribers.unsubscribe(ids[0]!)).rejects.toMatchObject({
    code: 'config',
    message: expect.stringContaining('SUPABASE_SERVICE_ROLE_KEY'),
  });
  await expect(db.rpc('no_such_function', {})).rejects.toMatchObject({ code: 'config', message: expect.stringContaining('migrations') });
});

test('an unreachable PostgREST is a retryable database error, with the function named', async () => {
  const down = createSupabaseDb('http://127.0.0.1:9', KEY);
  await expect(createLedger(down).subscribers.unsubscribe(ids[0]!)).rejects.toMatchObject({
    code: 'database',
    message: expect.stringContaining('unsubscribe'),
  });
});

test('an answer cut short at db-max-rows is refused with an error naming the call, never returned short', async () => {
  await t.pool.query(`create function public.adapter_test_rows(p_n integer) returns table (i integer) language sql as 'select generate_series(1, p_n)';
    grant execute on function public.adapter_test_rows(integer) to service_role`);
  // The fake caps at Supabase's 1,000 rows, as PostgREST does.
  expect(await db.rpc('adapter_test_rows', { p_n: 1000 })).toHaveLength(1000);
  await expect(db.rpc('adapter_test_rows', { p_n: 1001 })).rejects.toMatchObject({
    code: 'database',
    message: expect.stringMatching(/^adapter_test_rows: PostgREST answered 1000 of 1001 rows/),
  });
  // A gateway that turns the 206 into a 200 still says the total in Content-Range.
  const cut = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-range': '0-1/3' });
    res.end(JSON.stringify([{ i: 1 }, { i: 2 }]));
  });
  await new Promise<void>((resolve) => cut.listen(0, '127.0.0.1', resolve));
  try {
    const short = createSupabaseDb(`http://127.0.0.1:${(cut.address() as { port: number }).port}`, KEY);
    await expect(short.rpc('some_call', {})).rejects.toMatchObject({ message: expect.stringContaining('some_call: PostgREST answered 2 of 3 rows') });
  } finally {
    cut.close();
  }
});
