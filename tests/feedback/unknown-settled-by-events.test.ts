import fs from 'node:fs';
import path from 'node:path';
import { handleSnsRequest, mailoutFeedbackStats } from '../../lib/feedback';
import { mailoutIdFromName } from '../../lib/mailout-id';
import { createSnsSigner } from '../../scripts/fakes/sns';
import { createTestDatabase, seedSubscribers, type TestDatabase, STORED_LETTER, leaseOf } from '../helpers/db';

/**
 * "Unknown" resolved by SES's own events (issue 26, item 3): each message carries the tags
 * mailout_id and subscriber_id, SES copies its tags into every configuration-set event
 * ("mail.tags", a list of values per tag: see the AWS samples in fixtures/, from the SES
 * developer guide, "Examples of event data that Amazon SES publishes to Amazon SNS"), and a
 * Send, Delivery, Bounce or Complaint event settles an `unknown` row as `sent`, once.
 * Signed SNS envelopes through the real handler; real Postgres.
 */
const FIXTURES = path.join(__dirname, 'fixtures');
type Sample = { mail: Record<string, unknown> } & Record<string, Record<string, unknown>>;
const fixture = (name: string): Sample => JSON.parse(fs.readFileSync(path.join(FIXTURES, `${name}.json`), 'utf8'));

const sns = createSnsSigner();
let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t.drop();
});
beforeEach(async () => {
  await t.pool.query('truncate ses_events, deliveries, mailouts, subscribers cascade');
  await seedSubscribers(t.pool, 6);
});

const post = (envelope: unknown) =>
  handleSnsRequest(JSON.stringify(envelope), {
    db: t.db,
    config: { snsAllowedTopicArns: [sns.topicArn], softBounceLimit: 3 },
    fetchCertificate: sns.fetchStub,
    fetchSubscribeUrl: async () => ({ ok: true, status: 200 }),
  });

/** An AWS sample event about one of our messages: its id, its recipient, our tags. */
function event(name: string, m: { mailoutId: string; subscriberId: string; email: string; sesMessageId: string }): Sample {
  const s = fixture(name);
  const tags = { ...(s.mail.tags as Record<string, string[]>), mailout_id: [m.mailoutId], subscriber_id: [m.subscriberId] };
  const e: Sample = { ...s, mail: { ...s.mail, messageId: m.sesMessageId, destination: [m.email], tags } };
  if (e.delivery) e.delivery = { ...e.delivery, recipients: [m.email] };
  if (e.bounce) e.bounce = { ...e.bounce, bouncedRecipients: [{ emailAddress: m.email, status: '5.1.1' }] };
  if (e.complaint) e.complaint = { ...e.complaint, complainedRecipients: [{ emailAddress: m.email }] };
  return e;
}
const signed = (e: Sample) => sns.notification({ Message: JSON.stringify(e) });

/** A mailout with `marked` rows marked (begin_sends) and the rest queued. */
async function withMarks(name: string, marked: number) {
  const id = mailoutIdFromName(name);
  const c = await t.ledger.claim(id, { leaseSeconds: 60, content: STORED_LETTER });
  const batch = await t.ledger.run(leaseOf(c)).claimBatch({ limit: marked });
  await t.ledger.run(leaseOf(c)).begin(batch.map((b) => b.subscriberId));
  return { id, token: c.leaseToken!, rows: batch.map((b, i) => ({ mailoutId: id, subscriberId: b.subscriberId, email: b.email, sesMessageId: `0100018c-${name}-${i}` })) };
}
async function takeOver(id: string) {
  await t.pool.query(`update mailouts set lease_until = now() - interval '1 second' where id = $1`, [id]);
  return t.ledger.claim(id, { leaseSeconds: 60, content: null });
}
async function ledger(id: string) {
  const { rows } = await t.pool.query(`select subscriber_id, status, ses_message_id, error_code from deliveries where mailout_id = $1 order by subscriber_id`, [id]);
  return rows;
}
async function countsEqualLedger(id: string) {
  const stored = (await t.pool.query(`select sent, unknown, queued, delivered, hard_bounces, complaints from mailouts where id = $1`, [id])).rows[0];
  const derived = (
    await t.pool.query(
      `select count(*) filter (where status = 'sent')::int sent, count(*) filter (where status = 'unknown')::int unknown,
              count(*) filter (where status = 'queued')::int queued, count(*) filter (where fb_delivered)::int delivered,
              count(*) filter (where fb_hard_bounce)::int hard_bounces, count(*) filter (where fb_complaint)::int complaints
         from deliveries where mailout_id = $1`,
      [id],
    )
  ).rows[0];
  expect(stored).toEqual(derived);
  return stored;
}

test('a Send, Delivery, Bounce or Complaint event settles an unknown row as sent with SES’s message id, and the counts follow', async () => {
  const m = await withMarks('settle-each-type', 4);
  await takeOver(m.id);
  expect(await countsEqualLedger(m.id)).toMatchObject({ sent: 0, unknown: 4 });
  const types = ['event-send', 'event-delivery', 'event-bounce', 'event-complaint'];
  for (const [i, name] of types.entries()) {
    const res = await post(signed(event(name, m.rows[i]!)));
    expect(res.status).toBe(200);
  }
  const rows = await ledger(m.id);
  for (const r of m.rows) {
    expect(rows.find((x) => x.subscriber_id === r.subscriberId)).toMatchObject({ status: 'sent', ses_message_id: r.sesMessageId, error_code: 'answer_lost' });
  }
  expect(await countsEqualLedger(m.id)).toMatchObject({ sent: 4, unknown: 0, delivered: 1, hard_bounces: 1, complaints: 1 });
  expect(await mailoutFeedbackStats(t.db, m.id)).toEqual({ sends: 4, delivered: 1, hardBounces: 1, softBounces: 0, complaints: 1 });
  // The report says how each was settled.
  const report = await t.ledger.reports.page(m.id, { after: null, limit: 1000 });
  const settled = report.filter((r) => r.error_code === 'answer_lost');
  expect(settled).toHaveLength(4);
  expect(settled.map((r) => r.error_message)).toEqual(expect.arrayContaining([expect.stringMatching(/SES's Send event settled it as sent/)]));
});

test('events for a row do not settle it twice: duplicates, a second copy and a later event change nothing', async () => {
  const m = await withMarks('settle-once', 2);
  await takeOver(m.id);
  const send = signed(event('event-send', m.rows[0]!));
  await post(send);
  const once = { rows: await ledger(m.id), counts: await countsEqualLedger(m.id) };
  await post(send); // SNS redelivers the same message
  await post(signed(event('event-send', m.rows[0]!))); // the same event under another SNS id
  // An event naming another message id for the same row (never ours) does not move the row.
  await post(signed(event('event-send', { ...m.rows[0]!, sesMessageId: '0100018c-other-message' })));
  expect({ rows: await ledger(m.id), counts: await countsEqualLedger(m.id) }).toEqual(once);
  expect(once.counts).toMatchObject({ sent: 1, unknown: 1 });
});

test('order does not matter: an event that arrives while the row is still sending settles it when the takeover makes it unknown', async () => {
  const m = await withMarks('settle-early', 3);
  // SES accepted row 0 and said so at once; its answer never reached the run.
  await post(signed(event('event-delivery', m.rows[0]!)));
  // Row 1: the Delivery before the Send.
  await post(signed(event('event-delivery', m.rows[1]!)));
  await post(signed(event('event-send', m.rows[1]!)));
  expect(await countsEqualLedger(m.id)).toMatchObject({ sent: 0, unknown: 0, delivered: 2 });
  await takeOver(m.id);
  const rows = await ledger(m.id);
  expect(rows.find((r) => r.subscriber_id === m.rows[0]!.subscriberId)).toMatchObject({ status: 'sent', ses_message_id: m.rows[0]!.sesMessageId });
  expect(rows.find((r) => r.subscriber_id === m.rows[1]!.subscriberId)).toMatchObject({ status: 'sent', ses_message_id: m.rows[1]!.sesMessageId });
  expect(rows.find((r) => r.subscriber_id === m.rows[2]!.subscriberId)).toMatchObject({ status: 'unknown' });
  expect(await countsEqualLedger(m.id)).toMatchObject({ sent: 2, unknown: 1, delivered: 2 });
});

test('a run that records its own answer after the event came keeps one row, one message id, counted once', async () => {
  const m = await withMarks('settle-answer-too', 1);
  await post(signed(event('event-send', m.rows[0]!)));
  await t.ledger.run({ mailoutId: m.id, leaseToken: m.token, leaseSeconds: 60 }).record([{ subscriberId: m.rows[0]!.subscriberId, status: 'sent', sesMessageId: m.rows[0]!.sesMessageId }]);
  expect(await ledger(m.id)).toEqual(
    expect.arrayContaining([expect.objectContaining({ subscriber_id: m.rows[0]!.subscriberId, status: 'sent', ses_message_id: m.rows[0]!.sesMessageId, error_code: null })]),
  );
  expect(await countsEqualLedger(m.id)).toMatchObject({ sent: 1, unknown: 0 });
});

test('an event whose tags are not a canonical subscriber id finds no row and changes nothing', async () => {
  const m = await withMarks('settle-bad-tag', 1);
  await takeOver(m.id);
  const before = await ledger(m.id);
  await post(signed(event('event-send', { ...m.rows[0]!, subscriberId: m.rows[0]!.subscriberId.toUpperCase() })));
  expect(await ledger(m.id)).toEqual(before);
});
