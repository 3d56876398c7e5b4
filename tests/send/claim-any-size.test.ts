import { createSupabaseDb } from '../../lib/db/supabase';
import { createLedger } from '../../lib/db/ledger';
import type { Db } from '../../lib/db/types';
import { startMailout } from '../../lib/send';
import { startFakePostgrest, type FakePostgrest } from '../../scripts/fakes/postgrest';
import { startFakeSes, type FakeSes } from '../../scripts/fakes/ses';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { sendDeps, testConfig } from './helpers';

/**
 * A list far longer than one statement may copy: through SUPABASE_URL with the service role's
 * statement timeout lowered to 1 s (a slower CPU than this machine's, 8 s on Supabase), a
 * 300,000-subscriber mailout is claimed and sent, each recipient once. (The claim of the
 * whole list in one statement took 1.3 s per 100,000 here.)
 */
const LIST = 300_000;
const KEY = 'test-service-role-key-0123456789abcdef';
const MAILOUT = '5a0c2f3e-7d41-8b6a-9e13-4c8f0b2d6e71';

let t: TestDatabase;
let rest: FakePostgrest;
let ses: FakeSes;
const VIA_SES = 10_000;
/** Each address SES accepted, with how many times. */
const accepted = new Map<string, number>();
beforeAll(async () => {
  t = await createTestDatabase();
  rest = await startFakePostgrest(t.url, KEY, { statementTimeoutMs: 1000 });
  ses = await startFakeSes({
    keepCalls: false,
    account: { SendQuota: { Max24HourSend: -1, MaxSendRate: 100_000 } },
    onCall: (call) => {
      if (call.outcome.status !== 200) return;
      for (const to of call.to) accepted.set(to, (accepted.get(to) ?? 0) + 1);
    },
  });
});
afterAll(async () => {
  await ses.close();
  await rest.close();
  await t.drop();
});

/** Hands out, marks and records as sent every queued recipient, as the send loop does but without SES. */
async function drainWithoutSes(db: Db, leaseToken: string, workers: number): Promise<string[]> {
  const handed: string[] = [];
  await Promise.all(
    Array.from({ length: workers }, async () => {
      for (;;) {
        const batch = await createLedger(db).run({ mailoutId: MAILOUT, leaseToken, leaseSeconds: 600 }).claimBatch({ limit: 250 });
        if (batch.length === 0) return;
        const ids = batch.map((b) => b.subscriberId);
        const decisions = await createLedger(db).run({ mailoutId: MAILOUT, leaseToken, leaseSeconds: 600 }).begin(ids);
        expect([...decisions.values()].every((d) => d === 'send')).toBe(true);
        await createLedger(db).run({ mailoutId: MAILOUT, leaseToken, leaseSeconds: 60 }).record(ids.map((id) => ({ subscriberId: id, status: 'sent' as const, sesMessageId: `drained-${id}` })));
        handed.push(...ids);
      }
    }),
  );
  return handed;
}

test('the fake runs each call under the lowered statement timeout, as PostgREST answers it', async () => {
  await t.pool.query(`create function public.slow_probe() returns void language sql as 'select pg_sleep(1.5)'`);
  await t.pool.query(`grant execute on function public.slow_probe() to service_role`);
  const res = await fetch(`${rest.url}/rest/v1/rpc/slow_probe`, {
    method: 'POST',
    headers: { apikey: KEY, authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: '{}',
  });
  expect(res.status).not.toBe(200);
  expect(await res.json()).toMatchObject({ code: '57014', message: 'canceling statement due to statement timeout' });
});

/**
 * The send loop sends the first 10,000 through SES and is paused there (SES stops accepting);
 * the next 290,000 go through the same ledger calls without SES (at this machine's engine rate
 * of a few hundred a second they would take a quarter of an hour); the loop then resumes and
 * completes. Every chunk copy of the list runs as a claim_batch under the 1 s timeout.
 */
test('a 300,000-subscriber mailout is claimed and sent through SUPABASE_URL with a 1 s statement timeout, each subscriber once', async () => {
  await t.pool.query(
    `insert into subscribers (email, name, source)
     select 'reader' || g || '@example.com', 'Reader ' || g, 'test' from generate_series(1, $1) g`,
    [LIST],
  );
  await t.pool.query('vacuum analyze subscribers');
  const config = testConfig(t, ses.url, { BATCH_SIZE: '250', SEND_CONCURRENCY: '64' });
  // Pacing out of the way (RATE_LIMIT_PER_SEC stops at 1,000/s), as the send bench does.
  config.sending.ratePerSec = 2000;
  const db = createSupabaseDb(rest.url, KEY);
  const deps = sendDeps(config, t, { db });
  const request = { mailoutId: MAILOUT, fromNotion: false, dryRun: false, continuation: false };

  ses.setFailure({ afterSends: VIA_SES, error: 'SendingPausedException' });
  const started = await startMailout(deps, request);
  expect(started.body).toMatchObject({ outcome: 'started', recipients: LIST, queued: LIST });
  expect(await started.run!()).toMatchObject({ outcome: 'paused' });
  ses.clearFailures();

  const resumed = await createLedger(db).claim(MAILOUT, { leaseSeconds: 600, content: null });
  expect(resumed).toMatchObject({ outcome: 'resumed', recipients: LIST, queued: LIST - VIA_SES });
  // Two at once, as the send loop's claim and its outcomes overlap: each call also updates the
  // mailout's row (its lease and the ledger's counters), so more workers only queue on it.
  const drained = await drainWithoutSes(db, resumed.leaseToken!, 2);
  await createLedger(db).run({ mailoutId: MAILOUT, leaseToken: resumed.leaseToken!, leaseSeconds: 60 }).finish({ outcome: 'released' });

  const last = await startMailout(deps, { ...request, continuation: true });
  expect(await last.run!()).toMatchObject({ outcome: 'complete', final: { status: 'sent', recipients: LIST, sent: LIST, failed: 0, unknown: 0 } });
  expect(accepted.size).toBe(VIA_SES);
  expect([...accepted.values()].every((n) => n === 1)).toBe(true);
  expect(drained).toHaveLength(LIST - VIA_SES);
  expect(new Set(drained).size).toBe(LIST - VIA_SES);
  const { rows } = await t.pool.query(
    `select status, ses_message_id like 'drained-%' as drained, count(*)::int n from deliveries where mailout_id = $1 group by 1, 2 order by 2`,
    [MAILOUT],
  );
  expect(rows).toEqual([
    { status: 'sent', drained: false, n: VIA_SES },
    { status: 'sent', drained: true, n: LIST - VIA_SES },
  ]);
}, 1_200_000);
