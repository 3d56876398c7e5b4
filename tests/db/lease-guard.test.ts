import { mailoutIdFromName } from '../../lib/mailout-id';
import { createTestDatabase, seedSubscribers, type TestDatabase, STORED_LETTER } from '../helpers/db';

/**
 * The ledger's half of "no send on a mark that may have outlived its lease": begin_sends marks
 * only under a live lease and extends it from its own transaction; a run whose lease was taken
 * over can change none of the rows the takeover settled. Real Postgres.
 */
let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  await seedSubscribers(t.pool, 10);
});
afterAll(async () => {
  await t.drop();
});

async function claimed(name: string, leaseSeconds = 60) {
  const id = mailoutIdFromName(name);
  const c = await t.ledger.claim(id, { leaseSeconds, content: STORED_LETTER });
  const batch = await t.ledger.run({ mailoutId: id, leaseToken: c.leaseToken!, leaseSeconds }).claimBatch({ limit: 10 });
  return { id, token: c.leaseToken!, ids: batch.map((b) => b.subscriberId) };
}

const expire = (id: string) => t.pool.query(`update mailouts set lease_until = now() - interval '1 second' where id = $1`, [id]);

test('begin_sends marks nothing once the lease has passed, even before anyone took the mailout over', async () => {
  const m = await claimed('guard-expired');
  await expire(m.id);
  const decisions = await t.ledger.run({ mailoutId: m.id, leaseToken: m.token, leaseSeconds: 60 }).begin(m.ids.slice(0, 3));
  expect([...decisions.values()]).toEqual(['lost', 'lost', 'lost']);
  const { rows } = await t.pool.query(`select count(*)::int n from deliveries where mailout_id = $1 and attempted_at is not null`, [m.id]);
  expect(rows[0].n).toBe(0);
});

test('begin_sends extends the lease to its own start plus the lease seconds, never shortens it', async () => {
  const m = await claimed('guard-extends', 10);
  const before = (await t.pool.query(`select lease_until from mailouts where id = $1`, [m.id])).rows[0].lease_until as Date;
  await t.ledger.run({ mailoutId: m.id, leaseToken: m.token, leaseSeconds: 3600 }).begin([m.ids[0]!]);
  const after = (await t.pool.query(`select lease_until, lease_until - now() > interval '3500 seconds' as long from mailouts where id = $1`, [m.id])).rows[0];
  expect(after.long).toBe(true);
  await t.ledger.run({ mailoutId: m.id, leaseToken: m.token, leaseSeconds: 1 }).begin([m.ids[1]!]);
  const kept = (await t.pool.query(`select lease_until from mailouts where id = $1`, [m.id])).rows[0].lease_until as Date;
  expect(kept.getTime()).toBe((after.lease_until as Date).getTime());
  expect(kept.getTime()).toBeGreaterThan(before.getTime());
});

test('records from a run whose lease was taken over change no row the takeover settled, and no count', async () => {
  const m = await claimed('guard-late-records');
  const decisions = await t.ledger.run({ mailoutId: m.id, leaseToken: m.token, leaseSeconds: 60 }).begin(m.ids.slice(0, 4));
  expect([...decisions.values()]).toEqual(['send', 'send', 'send', 'send']);
  await expire(m.id);
  const takeover = await t.ledger.claim(m.id, { leaseSeconds: 60, content: null });
  expect(takeover).toMatchObject({ outcome: 'resumed', unknown: 4 });
  const snapshot = async () => ({
    rows: (await t.pool.query(`select subscriber_id, status, ses_message_id, error_code from deliveries where mailout_id = $1 order by 1`, [m.id])).rows,
    mailout: (await t.pool.query(`select recipients, sent, failed, skipped, unknown from mailouts where id = $1`, [m.id])).rows[0],
  });
  const before = await snapshot();

  const late = await t.ledger.run({ mailoutId: m.id, leaseToken: m.token, leaseSeconds: 60 }).record([
    { subscriberId: m.ids[0]!, status: 'sent', sesMessageId: 'late-0000-sent' },
    { subscriberId: m.ids[1]!, status: 'failed', errorCode: 'MessageRejected', errorMessage: 'late' },
    { subscriberId: m.ids[2]!, status: 'unknown', errorCode: 'TimeoutError', errorMessage: 'late' },
    { subscriberId: m.ids[3]!, status: 'queued' },
  ]);
  expect(late).toEqual({ recorded: 0, requeued: 0 });
  expect(await snapshot()).toEqual(before);
});
