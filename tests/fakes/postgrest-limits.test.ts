import { startFakePostgrest, type FakePostgrest } from '../../scripts/fakes/postgrest';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

/**
 * The PostgREST fake is no kinder than Supabase's PostgREST, by default, with no option set:
 * every answer capped at db-max-rows 1,000 with PostgREST's Content-Range (RPC included,
 * PostgREST issue #3576), each call under the service role's 8 s statement timeout, and
 * PostgREST's error bodies and statuses. A fake that lets any of this through fails here.
 */
const KEY = 'service-role-key-for-limit-tests-0123456789';
let t: TestDatabase;
let rest: FakePostgrest;

const rpc = (fn: string, body: unknown, headers: Record<string, string> = {}, url = rest.url) =>
  fetch(`${url}/rest/v1/rpc/${fn}`, {
    method: 'POST',
    headers: { apikey: KEY, authorization: `Bearer ${KEY}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

beforeAll(async () => {
  t = await createTestDatabase();
  await t.pool.query(`
    create function public.limit_test_rows(p_n integer) returns table (i integer) language sql as 'select generate_series(1, p_n)';
    create function public.limit_test_setting() returns table (timeout text) language sql as $$select current_setting('statement_timeout')$$;
    create function public.limit_test_sleep(p_seconds double precision) returns table (slept boolean) language sql as 'select pg_sleep(p_seconds) is not null';
    create function public.limit_test_raise(p_code text) returns table (x integer) language plpgsql as
      $$begin raise exception 'refused on purpose' using errcode = p_code, detail = 'the detail', hint = 'the hint'; end$$;
    create function public.limit_test_private() returns table (x integer) language sql as 'select 1';
    revoke execute on function public.limit_test_private() from public;
    grant execute on function public.limit_test_rows(integer), public.limit_test_setting(), public.limit_test_sleep(double precision),
      public.limit_test_raise(text) to service_role;
  `);
  rest = await startFakePostgrest(t.url, KEY);
});
afterAll(async () => {
  await rest.close();
  await t.drop();
});

test('an RPC answer is capped at 1,000 rows by default, with Content-Range 0-999/* and a 200, as PostgREST answers it', async () => {
  const res = await rpc('limit_test_rows', { p_n: 1500 });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-range')).toBe('0-999/*');
  const rows = (await res.json()) as { i: number }[];
  expect(rows).toHaveLength(1000);
  expect(rows[999]).toEqual({ i: 1000 });
});

test('with Prefer: count=exact a capped answer is a 206 that gives the total; a whole one a 200', async () => {
  const partial = await rpc('limit_test_rows', { p_n: 1500 }, { prefer: 'count=exact' });
  expect(partial.status).toBe(206);
  expect(partial.headers.get('content-range')).toBe('0-999/1500');
  expect((await partial.json()) as unknown[]).toHaveLength(1000);
  const whole = await rpc('limit_test_rows', { p_n: 1000 }, { prefer: 'count=exact' });
  expect(whole.status).toBe(200);
  expect(whole.headers.get('content-range')).toBe('0-999/1000');
  const empty = await rpc('limit_test_rows', { p_n: 0 }, { prefer: 'count=exact' });
  expect(empty.status).toBe(200);
  expect(empty.headers.get('content-range')).toBe('*/0');
});

test("each call runs under the service role's 8 s statement timeout by default", async () => {
  const res = await rpc('limit_test_setting', {});
  expect(await res.json()).toEqual([{ timeout: '8s' }]);
});

test('a call over the statement timeout is PostgREST\'s 500 with SQLSTATE 57014 (a test may lower the timeout)', async () => {
  const slow = await startFakePostgrest(t.url, KEY, { statementTimeoutMs: 50 });
  try {
    const res = await rpc('limit_test_sleep', { p_seconds: 30 }, {}, slow.url);
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ code: '57014', message: 'canceling statement due to statement timeout', details: null, hint: null });
  } finally {
    await slow.close();
  }
});

test("errors are PostgREST's: {code, message, details, hint} with the status its table gives the SQLSTATE", async () => {
  const cases: [string, number][] = [
    ['P0001', 400],
    ['22023', 400],
    ['ML001', 400],
    ['23505', 409],
    ['40001', 500],
    ['53300', 503],
  ];
  for (const [code, status] of cases) {
    const res = await rpc('limit_test_raise', { p_code: code });
    expect({ code, status: res.status, body: await res.json() }).toEqual({
      code,
      status,
      body: { code, message: 'refused on purpose', details: 'the detail', hint: 'the hint' },
    });
  }
  const denied = await rpc('limit_test_private', {});
  expect(denied.status).toBe(403);
  expect(await denied.json()).toMatchObject({ code: '42501' });
});

test('a function that does not exist, or not with these argument names, is PGRST202 (404)', async () => {
  for (const [fn, body] of [['no_such_function', {}], ['limit_test_rows', { p_wrong: 1 }]] as const) {
    const res = await rpc(fn, body);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ code: 'PGRST202', message: expect.stringContaining(`public.${fn}(`), hint: null });
  }
});
