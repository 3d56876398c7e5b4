import { applySesEvent, mailoutFeedbackStats } from '../../lib/feedback/store';
import { parseSesMessage } from '../../lib/feedback/ses';
import { mailoutIdFromName } from '../../lib/mailout-id';
import { createTestDatabase, seedSubscribers, type TestDatabase, STORED_LETTER, leaseOf } from '../helpers/db';

/**
 * Counts are always the ledger's (issue 26 item 2): every path that changes a delivery row
 * keeps the mailout's counters equal to the ledger in its own transaction, and the readers
 * (mailout_counts, mailout_feedback_stats) read those counters. Walks every path, checking
 * after each step against counts taken from the rows themselves. Real Postgres.
 */
let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  await seedSubscribers(t.pool, 20);
  await seedSubscribers(t.pool, 2, { prefix: 'gone', status: 'unsubscribed' });
});
afterAll(async () => {
  await t.drop();
});

/** The counts as the ledger's rows and SES events have them, computed the slow way. */
async function fromRows(id: string) {
  const { rows } = await t.pool.query(
    `with fb as (
       select d.subscriber_id,
              bool_or(e.event_type = 'Delivery') delivered,
              bool_or(e.event_type = 'Bounce' and e.bounce_class = 'hard') hard,
              bool_or(e.event_type = 'Bounce' and e.bounce_class = 'soft') soft,
              bool_or(e.event_type = 'Complaint') complaint
         from deliveries d join ses_events e on e.ses_message_id = d.ses_message_id
        where d.mailout_id = $1 group by d.subscriber_id)
     select (select count(*)::int from deliveries where mailout_id = $1) recipients,
            ${['queued', 'sending', 'sent', 'failed', 'skipped', 'unknown']
              .map((s) => `(select count(*)::int from deliveries where mailout_id = $1 and status = '${s}') ${s}`)
              .join(', ')},
            (select count(*)::int from fb where delivered) delivered,
            (select count(*)::int from fb where hard) hard_bounces,
            (select count(*)::int from fb where soft and not hard) soft_bounces,
            (select count(*)::int from fb where complaint) complaints`,
    [id],
  );
  return rows[0];
}

async function expectCountsEqualLedger(id: string, step: string) {
  const truth = await fromRows(id);
  const stored = (
    await t.pool.query(
      `select recipients, queued, sending, sent, failed, skipped, unknown, delivered, hard_bounces, soft_bounces, complaints from mailouts where id = $1`,
      [id],
    )
  ).rows[0];
  const { delivered, hard_bounces, soft_bounces, complaints, ...byStatus } = truth;
  expect({ step, stored }).toEqual({ step, stored: truth });
  expect({ step, counts: await t.ledger.counts(id) }).toEqual({ step, counts: byStatus });
  expect({ step, stats: await mailoutFeedbackStats(t.db, id) }).toEqual({
    step,
    stats: { sends: truth.sent, delivered, hardBounces: hard_bounces, softBounces: soft_bounces, complaints },
  });
  return truth;
}

let sns = 0;
async function sesEvent(type: 'Delivery' | 'Bounce' | 'Complaint' | 'Send', email: string, sesMessageId: string, bounceType = 'Permanent') {
  const body: Record<string, unknown> = { eventType: type, mail: { messageId: sesMessageId, destination: [email] } };
  if (type === 'Delivery') body.delivery = { recipients: [email] };
  if (type === 'Bounce') body.bounce = { bounceType, bounceSubType: 'General', bouncedRecipients: [{ emailAddress: email }] };
  if (type === 'Complaint') body.complaint = { complainedRecipients: [{ emailAddress: email }] };
  return applySesEvent(t.db, { snsMessageId: `sns-counts-${++sns}`, event: parseSesMessage(JSON.stringify(body)), softBounceLimit: 3 });
}

test('claim, batch, marks, records, takeover, finish, feedback, a stray write and a delete: the counts equal the ledger after every step', async () => {
  const id = mailoutIdFromName('counts-every-path');
  const c = await t.ledger.claim(id, { leaseSeconds: 60, content: STORED_LETTER });
  expect(await expectCountsEqualLedger(id, 'claim')).toMatchObject({ recipients: 20, queued: 20 });

  const batch = await t.ledger.run(leaseOf(c)).claimBatch({ limit: 10 });
  await expectCountsEqualLedger(id, 'claim_batch');
  const [a, b, f, u, q, left, stuck, ...rest] = batch;
  await t.pool.query(`update subscribers set status = 'unsubscribed' where id = $1`, [left!.subscriberId]);
  await t.ledger.run(leaseOf(c)).begin([a, b, f, u, q, left, stuck].map((x) => x!.subscriberId));
  expect(await expectCountsEqualLedger(id, 'begin_sends (one skipped)')).toMatchObject({ skipped: 1 });

  await t.ledger.run(leaseOf(c)).record([
    { subscriberId: a!.subscriberId, status: 'sent', sesMessageId: 'counts-a' },
    { subscriberId: b!.subscriberId, status: 'sent', sesMessageId: 'counts-b' },
    { subscriberId: f!.subscriberId, status: 'failed', errorCode: 'MessageRejected', errorMessage: 'no' },
    { subscriberId: u!.subscriberId, status: 'unknown', errorCode: 'TimeoutError', errorMessage: 'timed out' },
    { subscriberId: q!.subscriberId, status: 'queued' },
  ]);
  expect(await expectCountsEqualLedger(id, 'record_results')).toMatchObject({ sent: 2, failed: 1, unknown: 1 });

  // A takeover: the marked row becomes unknown, the claimed rows go back to the queue.
  await t.pool.query(`update mailouts set lease_until = now() - interval '1 second' where id = $1`, [id]);
  const r = await t.ledger.claim(id, { leaseSeconds: 60, content: null });
  expect(await expectCountsEqualLedger(id, 'takeover')).toMatchObject({ unknown: 2, sending: 0 });
  expect(rest.length).toBeGreaterThan(0);

  for (;;) {
    const next = await t.ledger.run(leaseOf(r)).claimBatch({ limit: 50 });
    if (next.length === 0) break;
    await t.ledger.run(leaseOf(r)).begin(next.map((x) => x.subscriberId));
    await t.ledger.run(leaseOf(r)).record(next.map((x) => ({ subscriberId: x.subscriberId, status: 'sent' as const, sesMessageId: `counts-${x.subscriberId}` })));
  }
  const fin = await t.ledger.run(leaseOf(r)).finish({ outcome: 'complete' });
  const done = await expectCountsEqualLedger(id, 'finish');
  expect(fin).toMatchObject({ status: 'sent', sent: done.sent, unknown: done.unknown, failed: 1, skipped: 1 });

  // Feedback: a delivery, a soft then a hard bounce for one recipient, a complaint, a Send that settles an unknown row.
  await sesEvent('Delivery', a!.email, 'counts-a');
  await sesEvent('Bounce', b!.email, 'counts-b', 'Transient');
  expect(await expectCountsEqualLedger(id, 'soft bounce')).toMatchObject({ soft_bounces: 1 });
  await sesEvent('Bounce', b!.email, 'counts-b');
  expect(await expectCountsEqualLedger(id, 'hard after soft')).toMatchObject({ hard_bounces: 1, soft_bounces: 0 });
  await sesEvent('Complaint', a!.email, 'counts-a');
  await t.pool.query(`select * from apply_ses_event('sns-counts-tagged', 'Send', 'counts-u', array[$1], null, null, null, null, null, null, null, null, 3, '{}', $2, $3)`, [
    u!.email,
    id,
    u!.subscriberId,
  ]);
  expect(await expectCountsEqualLedger(id, 'feedback')).toMatchObject({ delivered: 1, complaints: 1, unknown: 1 });

  // Nobody else can make the counts disagree with the ledger.
  await t.pool.query(`update mailouts set sent = 999, unknown = unknown + 5, recipients = 1 where id = $1`, [id]);
  await expectCountsEqualLedger(id, 'a stray write');
  await t.pool.query(`delete from deliveries where mailout_id = $1 and subscriber_id = $2`, [id, a!.subscriberId]);
  await expectCountsEqualLedger(id, 'delete');
});

test('a new mailout starts at zero whatever its insert says', async () => {
  const id = mailoutIdFromName('counts-insert');
  await t.pool.query(`insert into mailouts (id, status, sent, unknown, recipients) values ($1, 'paused', 5, 6, 7)`, [id]);
  expect(await t.ledger.counts(id)).toEqual({ recipients: 0, queued: 0, sending: 0, sent: 0, failed: 0, skipped: 0, unknown: 0 });
});

test('the counts of a mailout never claimed are zero', async () => {
  expect(await t.ledger.counts(mailoutIdFromName('counts-never'))).toEqual({ recipients: 0, queued: 0, sending: 0, sent: 0, failed: 0, skipped: 0, unknown: 0 });
  expect(await mailoutFeedbackStats(t.db, mailoutIdFromName('counts-never'))).toEqual({ sends: 0, delivered: 0, hardBounces: 0, softBounces: 0, complaints: 0 });
});

test('one statement over the rows of two mailouts counts each in its own mailout', async () => {
  const ids = [mailoutIdFromName('counts-two-a'), mailoutIdFromName('counts-two-b')];
  let n = 0;
  for (const id of ids) n = (await t.ledger.claim(id, { leaseSeconds: 60, content: STORED_LETTER })).recipients;
  await t.pool.query(
    `update deliveries set status = case when mailout_id = $1 then 'failed' else 'skipped' end
      where mailout_id = any ($2) and subscriber_id in (select subscriber_id from deliveries where mailout_id = $1 order by subscriber_id limit 3)`,
    [ids[0], ids],
  );
  expect(await expectCountsEqualLedger(ids[0]!, 'two mailouts: the first')).toMatchObject({ failed: 3, skipped: 0, queued: n - 3 });
  expect(await expectCountsEqualLedger(ids[1]!, 'two mailouts: the second')).toMatchObject({ failed: 0, skipped: 3, queued: n - 3 });
  await t.pool.query(`delete from deliveries where mailout_id = any ($1) and status <> 'queued'`, [ids]);
  for (const id of ids) expect(await expectCountsEqualLedger(id, 'two mailouts: a delete')).toMatchObject({ recipients: n - 3 });
});

test('the counting triggers run SQL written out (planned once per session), not a statement built on every call', async () => {
  const { rows } = await t.pool.query<{ tgname: string; src: string }>(
    `select t.tgname, p.prosrc as src from pg_trigger t join pg_proc p on p.oid = t.tgfoid
      where t.tgrelid = 'public.deliveries'::regclass and t.tgname like 'deliveries_count_%'
     union all
     select 'add_to_counts', p.prosrc from pg_proc p where p.oid = 'private.add_to_counts'::regproc`,
  );
  expect(rows.map((r) => r.tgname).sort()).toEqual(['add_to_counts', 'deliveries_count_deletes', 'deliveries_count_inserts', 'deliveries_count_updates']);
  for (const r of rows) expect({ fn: r.tgname, dynamic: /\bexecute\b/i.test(r.src) }).toEqual({ fn: r.tgname, dynamic: false });
});

test('nothing but the counting triggers can add to the counts', async () => {
  const id = mailoutIdFromName('counts-two-a');
  await expect(
    t.pool.query(`select private.add_to_counts(array[(5, $1, 'sent', false, false, false, false)::private.count_change])`, [id]),
  ).rejects.toMatchObject({ code: '42501' });
  await expectCountsEqualLedger(id, 'a direct call');
});
