import { createSupabaseDb } from '../../lib/db/supabase';
import { createLedger } from '../../lib/db/ledger';
import type { Db } from '../../lib/db/types';
import { startMailout } from '../../lib/send';
import { startFakePostgrest, SUPABASE_MAX_ROWS, type FakePostgrest } from '../../scripts/fakes/postgrest';
import { startFakeSes, type FakeSes } from '../../scripts/fakes/ses';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { sendDeps, testConfig } from './helpers';

/**
 * A list far longer than one statement may copy: through SUPABASE_URL, under the service
 * role's real 8 s statement timeout (the fake's default), a 300,000-subscriber mailout is
 * claimed and sent, each recipient once. That no call's work grows with the list is proved
 * by what each call does, not by how long it takes on this machine: a statement trigger in
 * this test's database records how many recipients each transaction (one PostgREST call)
 * copies into deliveries, and every call copies at most one chunk.
 */
const LIST = 300_000;
/** private.snapshot_recipients' chunk: the most recipients one call may copy. */
const CHUNK = 2000;
const KEY = 'test-service-role-key-0123456789abcdef';
const MAILOUT = '5a0c2f3e-7d41-8b6a-9e13-4c8f0b2d6e71';

let t: TestDatabase;
let rest: FakePostgrest;
let ses: FakeSes;
/** More than one chunk, so that the send loop's own claim_batch copies chunks too. */
const VIA_SES = 5000;
/** Each address SES accepted, with how many times. */
const accepted = new Map<string, number>();
beforeAll(async () => {
  t = await createTestDatabase();
  await recordCopiesPerCall(t);
  rest = await startFakePostgrest(t.url, KEY);
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

/**
 * A statement trigger on deliveries, in this test's database only: each statement that
 * inserts rows logs its transaction, how many rows, and the function the call ran (the
 * fake's statement is `select * from public.<fn>(…)`, read back by current_query()).
 */
async function recordCopiesPerCall(db: TestDatabase): Promise<void> {
  await db.pool.query(`
    create schema probe;
    create table probe.copies (seq bigserial primary key, txid bigint not null, call text not null, copied integer not null);
    create function probe.log_copies() returns trigger language plpgsql security definer set search_path = pg_catalog as $$
    begin
      insert into probe.copies (txid, call, copied)
      select txid_current(), coalesce(substring(current_query() from 'public\\.([a-z_]+)\\('), current_query()), count(*)
        from new_rows
      having count(*) > 0;
      return null;
    end $$;
    create trigger log_copies after insert on public.deliveries
      referencing new table as new_rows for each statement execute function probe.log_copies();`);
}

/** Each call that copied recipients into deliveries, in order: the function and how many it copied. */
async function copiesPerCall(): Promise<{ call: string; copied: number }[]> {
  const { rows } = await t.pool.query<{ call: string; copied: number }>(
    `select min(call) as call, sum(copied)::int as copied from probe.copies group by txid order by min(seq)`,
  );
  return rows;
}

/** Hands out, marks and records as sent every queued recipient, as the send loop does but without SES. */
async function drainWithoutSes(db: Db, leaseToken: string, workers: number): Promise<string[]> {
  const handed: string[] = [];
  await Promise.all(
    Array.from({ length: workers }, async () => {
      for (;;) {
        // The largest batch a PostgREST answer holds whole (db-max-rows): fewest round trips.
        const batch = await createLedger(db).run({ mailoutId: MAILOUT, leaseToken, leaseSeconds: 600 }).claimBatch({ limit: SUPABASE_MAX_ROWS });
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

test("the fake runs each call under the service role's 8 s statement timeout, as Supabase does", async () => {
  await t.pool.query(`create function public.timeout_probe() returns table (timeout text) language sql as $$select current_setting('statement_timeout')$$`);
  await t.pool.query(`grant execute on function public.timeout_probe() to service_role`);
  const res = await fetch(`${rest.url}/rest/v1/rpc/timeout_probe`, {
    method: 'POST',
    headers: { apikey: KEY, authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: '{}',
  });
  expect(await res.json()).toEqual([{ timeout: '8s' }]);
});

/**
 * The send loop sends the first 5,000 through SES and is paused there (SES stops accepting);
 * the other 295,000 go through the same ledger calls without SES (at this machine's engine
 * rate of a few hundred a second they would take a quarter of an hour); the loop then resumes
 * and completes. claim_mailout copies the first chunk and each later chunk is copied by one
 * claim_batch, none more than 2,000, whatever the list.
 */
test('a 300,000-subscriber mailout is claimed and sent through SUPABASE_URL, each subscriber once, no call copying more than one chunk', async () => {
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
  // The run ends where SES pauses it, never at a deadline a busy machine could reach first.
  const deps = sendDeps(config, t, { db, deadline: () => Date.now() + 3_600_000 });
  const request = { mailoutId: MAILOUT, fromNotion: false, dryRun: false, continuation: false };

  ses.setFailure({ afterSends: VIA_SES, error: 'SendingPausedException' });
  const started = await startMailout(deps, request);
  expect(started.body).toMatchObject({ outcome: 'started', recipients: LIST, queued: LIST });
  expect(await copiesPerCall()).toEqual([{ call: 'claim_mailout', copied: CHUNK }]);
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
  const [claim, ...chunks] = await copiesPerCall();
  expect(claim).toEqual({ call: 'claim_mailout', copied: CHUNK });
  expect(new Set(chunks.map((c) => c.call))).toEqual(new Set(['claim_batch']));
  expect(Math.max(...chunks.map((c) => c.copied))).toBeLessThanOrEqual(CHUNK);
  expect(CHUNK + chunks.reduce((sum, c) => sum + c.copied, 0)).toBe(LIST);
}, 1_200_000);
