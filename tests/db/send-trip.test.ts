import type { SendResult } from '../../lib/db/ledger';
import { mailoutIdFromName } from '../../lib/mailout-id';
import { createTestDatabase, seedSubscribers, type TestDatabase, STORED_LETTER } from '../helpers/db';

/**
 * send_trip (issue 24): one transaction records the outcomes handed in and marks the next
 * messages, under the rules of begin_sends and record_results it replaces in the send loop.
 * Real Postgres.
 */
let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  await seedSubscribers(t.pool, 30);
});
afterAll(async () => {
  await t.drop();
});

async function claimed(name: string, limit = 10) {
  const id = mailoutIdFromName(name);
  const c = await t.ledger.claim(id, { leaseSeconds: 60, content: STORED_LETTER });
  const lease = { mailoutId: id, leaseToken: c.leaseToken!, leaseSeconds: 60 };
  const batch = await t.ledger.run(lease).claimBatch({ limit });
  return { id, lease, ids: batch.map((b) => b.subscriberId) };
}

let tag = 0;
/** Sent outcomes, each with an SES message id of its own (they are unique across mailouts). */
const sent = (ids: string[]): SendResult[] => ids.map((s) => ({ subscriberId: s, status: 'sent', sesMessageId: `trip-${++tag}-${s}` }));

async function rows(id: string) {
  const { rows } = await t.pool.query(
    `select subscriber_id, status, attempted_at is not null as marked, claimed_by is not null as claimed, attempts, error_code
       from deliveries where mailout_id = $1`,
    [id],
  );
  return new Map(rows.map((r) => [r.subscriber_id as string, r]));
}

/** The mailout's stored counters against counts taken from its rows. */
async function expectCountsEqualLedger(id: string): Promise<void> {
  const { rows: truth } = await t.pool.query(`select status, count(*)::int n from deliveries where mailout_id = $1 group by status`, [id]);
  const by = Object.fromEntries(truth.map((r) => [r.status, r.n]));
  const counts = await t.ledger.counts(id);
  for (const s of ['queued', 'sending', 'sent', 'failed', 'skipped', 'unknown'] as const) expect({ s, n: counts[s] }).toEqual({ s, n: by[s] ?? 0 });
}

test('one trip records the last outcomes and marks the next messages; a leaver is skipped, a deleted subscriber too, an id twice is lost', async () => {
  const m = await claimed('trip-both');
  const [a, b, c, d, e, f] = m.ids;
  expect((await t.ledger.run(m.lease).trip([a!, b!, c!], [])).decisions).toEqual(['send', 'send', 'send']);
  await t.pool.query(`update subscribers set status = 'unsubscribed' where id = $1`, [e]);
  await t.pool.query(`delete from subscribers where id = $1`, [f]);

  const trip = await t.ledger.run(m.lease).trip([d!, e!, f!, d!], [
    ...sent([a!]),
    { subscriberId: b!, status: 'failed', errorCode: 'MessageRejected', errorMessage: 'refused' },
    { subscriberId: c!, status: 'queued' },
  ]);
  expect(trip).toEqual({ decisions: ['send', 'skip', 'skip', 'lost'], recorded: 2, requeued: 1 });
  const after = await rows(m.id);
  expect(after.get(a!)).toMatchObject({ status: 'sent' });
  expect(after.get(b!)).toMatchObject({ status: 'failed', error_code: 'MessageRejected' });
  // Handed back never sent: queued again, unmarked, the attempt not counted.
  expect(after.get(c!)).toMatchObject({ status: 'queued', marked: false, claimed: false, attempts: 0 });
  expect(after.get(d!)).toMatchObject({ status: 'sending', marked: true });
  expect(after.get(e!)).toMatchObject({ status: 'skipped', marked: false, error_code: 'subscriber_unsubscribed' });
  expect(after.get(f!)).toMatchObject({ status: 'skipped', error_code: 'subscriber_deleted' });
  await expectCountsEqualLedger(m.id);
});

test('under a passed lease a trip marks nothing and extends nothing, but still records the rows that are still its own', async () => {
  const m = await claimed('trip-expired');
  const [a, b] = m.ids;
  await t.ledger.run(m.lease).trip([a!], []);
  await t.pool.query(`update mailouts set lease_until = now() - interval '1 second' where id = $1`, [m.id]);
  const trip = await t.ledger.run(m.lease).trip([b!], sent([a!]));
  expect(trip).toEqual({ decisions: ['lost'], recorded: 1, requeued: 0 });
  expect((await rows(m.id)).get(b!)).toMatchObject({ status: 'sending', marked: false });
  const { rows: lease } = await t.pool.query(`select lease_until < now() as passed from mailouts where id = $1`, [m.id]);
  expect(lease[0].passed).toBe(true);
});

test('after a takeover a late trip changes no row the takeover settled and marks nothing', async () => {
  const m = await claimed('trip-takeover');
  const [a, b] = m.ids;
  await t.ledger.run(m.lease).trip([a!], []);
  await t.pool.query(`update mailouts set lease_until = now() - interval '1 second' where id = $1`, [m.id]);
  const takeover = await t.ledger.claim(m.id, { leaseSeconds: 60, content: null });
  expect(takeover).toMatchObject({ outcome: 'resumed', unknown: 1 });
  const before = await rows(m.id);
  const late = await t.ledger.run(m.lease).trip([b!], [...sent([a!]), { subscriberId: b!, status: 'queued' }]);
  expect(late).toEqual({ decisions: ['lost'], recorded: 0, requeued: 0 });
  expect(await rows(m.id)).toEqual(before);
  await expectCountsEqualLedger(m.id);
});

test('a crash between the records and the marks cannot happen: a trip killed midway leaves neither, and a resume finds only the earlier marks unknown', async () => {
  const m = await claimed('trip-killed', 12);
  const earlier = m.ids.slice(0, 4);
  const next = m.ids.slice(4, 8);
  await t.ledger.run(m.lease).trip(earlier, []);
  const before = await rows(m.id);

  // Another session holds one of the next rows, so the trip stops inside its one statement,
  // with some rows already changed; then its backend is killed, as by a crash of the database.
  const blocker = await t.pool.connect();
  await blocker.query('begin');
  await blocker.query(`select 1 from deliveries where mailout_id = $1 and subscriber_id = $2 for update`, [m.id, next[3]]);
  const trip = t.ledger.run(m.lease).trip(next, sent(earlier));
  let settled = false;
  trip.then(
    () => (settled = true),
    () => (settled = true),
  );
  let pid: number | undefined;
  while (pid === undefined && !settled) {
    const { rows: waiting } = await t.pool.query(
      `select pid from pg_stat_activity where wait_event_type = 'Lock' and query like '%send_trip%' and pid <> pg_backend_pid()`,
    );
    pid = waiting[0]?.pid;
  }
  expect(pid).toBeDefined();
  await t.pool.query('select pg_terminate_backend($1)', [pid]);
  await expect(trip).rejects.toThrow();
  await blocker.query('rollback');
  blocker.release();

  expect(await rows(m.id)).toEqual(before);
  await expectCountsEqualLedger(m.id);
  await t.pool.query(`update mailouts set lease_until = now() - interval '1 second' where id = $1`, [m.id]);
  const resumed = await t.ledger.claim(m.id, { leaseSeconds: 60, content: null });
  // The rows marked before the trip are unknown (their outcomes never committed); the trip's marks are not.
  expect(resumed).toMatchObject({ outcome: 'resumed', unknown: earlier.length });
  const end = await rows(m.id);
  for (const id of earlier) expect(end.get(id)).toMatchObject({ status: 'unknown' });
  for (const id of next) expect(end.get(id)).toMatchObject({ status: 'queued', marked: false });
  await expectCountsEqualLedger(m.id);
});

test('a malformed trip is refused before anything changes', async () => {
  const m = await claimed('trip-refused');
  const before = await rows(m.id);
  await expect(t.ledger.run(m.lease).trip(['not-a-uuid'], [])).rejects.toThrow();
  await expect(
    t.pool.query(`select * from send_trip($1, $2, 60, $3::uuid[], $4::uuid[], $5::text[], '{}', '{}', '{}')`, [m.id, m.lease.leaseToken, [m.ids[0]], [m.ids[1]], ['sent']]),
  ).rejects.toThrow(/one entry per result id/);
  await expect(t.pool.query(`select * from send_trip($1, $2, 60, '{}', $3::uuid[], $4::text[], '{null}', '{null}', '{null}')`, [m.id, m.lease.leaseToken, [m.ids[1]], ['delivered']])).rejects.toThrow(
    /status of sent, failed, unknown or queued/,
  );
  expect(await rows(m.id)).toEqual(before);
});
