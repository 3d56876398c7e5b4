import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { createSesEventsHandler } from '../../api/ses-events';
import { loadConfig } from '../../lib/config';
import { createPostgresDb } from '../../lib/db/postgres';
import { autoPauseReason, handleSnsRequest, mailoutFeedbackStats, type SnsDeps, type SubscribeUrlFetcher } from '../../lib/feedback';
import { claimPendingNotionRefreshes } from '../../lib/feedback/store';
import { setLogSink } from '../../lib/log';
import { createSnsSigner, type SnsEnvelopeFields } from '../../scripts/fakes/sns';
import { createTestDatabase, type TestDatabase, STORED_LETTER, leaseOf } from '../helpers/db';

const FIXTURES = path.join(__dirname, 'fixtures');
const fixture = (name: string): Record<string, unknown> => JSON.parse(fs.readFileSync(path.join(FIXTURES, `${name}.json`), 'utf8'));
const fixtureText = (name: string): string => fs.readFileSync(path.join(FIXTURES, `${name}.json`), 'utf8');

/** Every address the AWS samples mention, plus one that no sample names. */
const LIST = ['jane@example.com', 'mary@example.com', 'richard@example.com', 'recipient@example.com', 'sender@example.com', 'bystander@example.com'];

const sns = createSnsSigner();
const DOCS_TOPIC = 'arn:aws:sns:us-west-2:123456789012:MyTopic';
const config = { snsAllowedTopicArns: [sns.topicArn, DOCS_TOPIC], softBounceLimit: 3 };

let t: TestDatabase;
let subscribeCalls: string[];
const fetchSubscribeUrl: SubscribeUrlFetcher = async (url) => {
  subscribeCalls.push(url);
  return { ok: true, status: 200 };
};
let logs: string[] = [];
let restoreSink: (line: string) => void;

beforeAll(async () => {
  t = await createTestDatabase();
  restoreSink = setLogSink((line) => logs.push(line));
});
afterAll(async () => {
  setLogSink(restoreSink);
  await t.drop();
});
beforeEach(async () => {
  subscribeCalls = [];
  logs = [];
  await t.pool.query('truncate ses_events, sns_dead_letters, notion_refresh, deliveries, mailouts, subscribers cascade');
  await t.pool.query(`insert into subscribers (email, source) select unnest($1::text[]), 'test'`, [LIST]);
});

function deps(extra: Partial<SnsDeps> = {}): SnsDeps {
  return { db: t.db, config, fetchCertificate: sns.fetchStub, fetchSubscribeUrl, ...extra };
}

async function post(envelope: unknown, extra: Partial<SnsDeps> = {}) {
  return handleSnsRequest(typeof envelope === 'string' ? envelope : JSON.stringify(envelope), deps(extra));
}

type Row = { email: string; status: string; soft_bounce_count: number; bounce_type: string | null; bounce_subtype: string | null };
async function subscribers(): Promise<Record<string, Omit<Row, 'email'>>> {
  const { rows } = await t.pool.query<Row>(
    'select email, status, soft_bounce_count, bounce_type, bounce_subtype from subscribers order by email',
  );
  return Object.fromEntries(rows.map(({ email, ...rest }) => [email, rest]));
}
const ACTIVE: Omit<Row, 'email'> = { status: 'active', soft_bounce_count: 0, bounce_type: null, bounce_subtype: null };
const everyoneActive = (): Record<string, Omit<Row, 'email'>> => Object.fromEntries(LIST.map((e) => [e, ACTIVE]));
async function eventCount(): Promise<number> {
  return (await t.pool.query('select count(*)::int as n from ses_events')).rows[0].n;
}

/** A signed Notification carrying an SES sample (as text, exactly as the fixture file has it). */
function wrap(message: string | Record<string, unknown>, fields: Partial<SnsEnvelopeFields> = {}, version: '1' | '2' = '1') {
  return sns.notification({ Message: typeof message === 'string' ? message : JSON.stringify(message), ...fields }, version);
}

// ---------------------------------------------------------------------------------------
// Every AWS sample, both formats, every event type
// ---------------------------------------------------------------------------------------

const SAMPLES: [fixture: string, eventType: string, changes: Record<string, Partial<Row>>][] = [
  ['notification-bounce-with-dsn', 'Bounce', { 'jane@example.com': { status: 'bounced', bounce_type: 'Permanent', bounce_subtype: 'General' } }],
  [
    'notification-bounce-without-dsn',
    'Bounce',
    {
      'jane@example.com': { status: 'bounced', bounce_type: 'Permanent', bounce_subtype: 'General' },
      'richard@example.com': { status: 'bounced', bounce_type: 'Permanent', bounce_subtype: 'General' },
    },
  ],
  ['notification-complaint-with-feedback', 'Complaint', { 'richard@example.com': { status: 'complained' } }],
  ['notification-complaint-without-feedback', 'Complaint', { 'richard@example.com': { status: 'complained' } }],
  ['notification-delivery', 'Delivery', {}],
  ['event-bounce', 'Bounce', { 'recipient@example.com': { status: 'bounced', bounce_type: 'Permanent', bounce_subtype: 'General' } }],
  ['event-complaint', 'Complaint', { 'recipient@example.com': { status: 'complained' } }],
  ['event-delivery', 'Delivery', {}],
  ['event-send', 'Send', {}],
  ['event-reject', 'Reject', {}],
  ['event-open', 'Open', {}],
  ['event-click', 'Click', {}],
  ['event-rendering-failure', 'Rendering Failure', {}],
  ['event-delivery-delay', 'DeliveryDelay', {}],
  ['event-subscription', 'Subscription', {}],
];

describe.each(['1', '2'] as const)('SignatureVersion %s', (version) => {
  test.each(SAMPLES)('AWS sample %s (%s): 200, stored, and exactly the listed status changes', async (name, eventType, changes) => {
    const envelope = wrap(fixtureText(name), {}, version);
    const res = await post(envelope);
    expect(res).toMatchObject({ status: 200, body: { ok: true, eventType, duplicate: false } });

    const expected = everyoneActive();
    for (const [email, change] of Object.entries(changes)) expected[email] = { ...ACTIVE, ...change };
    expect(await subscribers()).toEqual(expected);

    const { rows } = await t.pool.query('select event_type, ses_message_id, payload from ses_events where sns_message_id = $1', [
      envelope.MessageId,
    ]);
    expect(rows).toHaveLength(1);
    expect(rows[0].event_type).toBe(eventType);
    expect(rows[0].ses_message_id).toBe((fixture(name).mail as { messageId: string }).messageId);
    expect(rows[0].payload).toEqual(fixture(name));
  });
});

test('the SNS documentation envelopes, re-signed, are accepted as they are (Subject present, docs topic)', async () => {
  const { Signature: _s, SigningCertURL: _u, ...docs } = fixture('sns-notification') as unknown as SnsEnvelopeFields;
  const res = await post(sns.sign({ ...docs, Message: fixtureText('event-complaint') }));
  expect(res.status).toBe(200);
  expect((await subscribers())['recipient@example.com']!.status).toBe('complained');
});

// ---------------------------------------------------------------------------------------
// Bounce rules
// ---------------------------------------------------------------------------------------

function transientBounce(status: string, opts: { feedbackId?: string; recipients?: string[] } = {}) {
  const sample = fixture('event-bounce') as { bounce: Record<string, unknown> } & Record<string, unknown>;
  return {
    ...sample,
    bounce: {
      ...sample.bounce,
      bounceType: 'Transient',
      bounceSubType: 'MailboxFull',
      feedbackId: opts.feedbackId ?? randomUUID(),
      bouncedRecipients: (opts.recipients ?? ['recipient@example.com']).map((emailAddress) => ({
        emailAddress,
        action: 'failed',
        status,
        diagnosticCode: `smtp; 452 ${status} mailbox full`,
      })),
    },
  };
}

test('transient bounces count up and bounce the address at SOFT_BOUNCE_LIMIT (3)', async () => {
  await post(wrap(transientBounce('4.2.2')));
  await post(wrap(transientBounce('4.2.2')));
  expect((await subscribers())['recipient@example.com']).toEqual({ ...ACTIVE, soft_bounce_count: 2 });
  const third = await post(wrap(transientBounce('4.2.2')));
  expect(third.body).toMatchObject({ changes: { bounced: 1, softBounced: 1 } });
  expect((await subscribers())['recipient@example.com']).toEqual({
    status: 'bounced',
    soft_bounce_count: 3,
    bounce_type: 'Transient',
    bounce_subtype: 'MailboxFull',
  });
});

test('a transient bounce with status 5.4.4 is hard: bounced at once', async () => {
  await post(wrap(transientBounce('5.4.4')));
  expect((await subscribers())['recipient@example.com']).toEqual({
    status: 'bounced',
    soft_bounce_count: 0,
    bounce_type: 'Transient',
    bounce_subtype: 'MailboxFull',
  });
});

test('a delivery resets the soft-bounce count (the limit counts consecutive soft bounces)', async () => {
  await post(wrap(transientBounce('4.2.2')));
  await post(wrap(transientBounce('4.2.2')));
  await post(wrap(fixtureText('event-delivery')));
  await post(wrap(transientBounce('4.2.2')));
  expect((await subscribers())['recipient@example.com']).toEqual({ ...ACTIVE, soft_bounce_count: 1 });
});

test('a bounce only touches its listed recipients, matched case-insensitively and through display names', async () => {
  const sample = fixture('notification-bounce-with-dsn') as { bounce: Record<string, unknown> } & Record<string, unknown>;
  const msg = { ...sample, bounce: { ...sample.bounce, bouncedRecipients: [{ emailAddress: 'Mary Doe <MARY@Example.com>', status: '5.1.1' }] } };
  await post(wrap(msg));
  const expected = everyoneActive();
  expected['mary@example.com'] = { ...ACTIVE, status: 'bounced', bounce_type: 'Permanent', bounce_subtype: 'General' };
  expect(await subscribers()).toEqual(expected);
});

test('a complaint or bounce never revives or re-labels: unsubscribed stays unsubscribed, bounced stays bounced', async () => {
  await t.pool.query(`update subscribers set status = 'unsubscribed' where email = 'recipient@example.com'`);
  await post(wrap(fixtureText('event-bounce')));
  await t.pool.query(`update subscribers set status = 'bounced', bounce_type = 'Permanent' where email = 'richard@example.com'`);
  await post(wrap(fixtureText('notification-complaint-with-feedback')));
  const s = await subscribers();
  expect(s['recipient@example.com']!.status).toBe('unsubscribed');
  expect(s['richard@example.com']!.status).toBe('bounced');
});

test('the same bounce published twice by SES (identity and configuration set: same feedbackId) counts once', async () => {
  const bounce = transientBounce('4.2.2', { feedbackId: 'same-feedback-1' });
  const a = await post(wrap(bounce));
  const b = await post(wrap({ ...bounce, eventType: undefined, notificationType: 'Bounce' }));
  expect(a.status).toBe(200);
  expect(b.status).toBe(200);
  expect(await eventCount()).toBe(2);
  expect((await subscribers())['recipient@example.com']!.soft_bounce_count).toBe(1);
});

test('a signed notification whose Message is not SES JSON is stored and answered 200 (SNS must not retry it)', async () => {
  const res = await post(wrap('just some text published to the topic'));
  expect(res.status).toBe(200);
  expect(await subscribers()).toEqual(everyoneActive());
  const { rows } = await t.pool.query('select event_type, payload from ses_events');
  expect(rows).toEqual([{ event_type: 'Unknown', payload: { raw: 'just some text published to the topic' } }]);
});

// ---------------------------------------------------------------------------------------
// Refusals: 4xx, nothing changed
// ---------------------------------------------------------------------------------------

describe('refused requests change nothing', () => {
  let fetched: string[];
  const spyFetcher = async (url: string) => {
    fetched.push(url);
    return sns.fetchStub(url);
  };
  beforeEach(() => {
    fetched = [];
  });

  async function expectRefused(body: unknown, status: number, opts: { fetches?: number } = {}) {
    const before = await subscribers();
    const res = await post(body, { fetchCertificate: spyFetcher });
    expect(res.status).toBe(status);
    expect(res.body).toMatchObject({ error: expect.any(String) });
    expect(await subscribers()).toEqual(before);
    expect(await eventCount()).toBe(0);
    expect(subscribeCalls).toEqual([]);
    if (opts.fetches !== undefined) expect(fetched).toHaveLength(opts.fetches);
    return res;
  }

  test('forged signature: the Message changed after signing', async () => {
    const env = wrap(fixtureText('event-bounce'));
    await expectRefused({ ...env, Message: fixtureText('event-complaint') }, 401);
  });

  test('forged signature: random bytes', async () => {
    const env = wrap(fixtureText('event-bounce'));
    await expectRefused({ ...env, Signature: Buffer.alloc(256, 7).toString('base64') }, 401);
  });

  test('wrong key: signed by another key, pointing at the real certificate', async () => {
    const other = createSnsSigner();
    const env = other.sign({ ...wrap(fixtureText('event-bounce')), SigningCertURL: sns.certUrl });
    await expectRefused(env, 401);
  });

  test('certificate URL off an SNS host: refused and never fetched', async () => {
    const env = wrap(fixtureText('event-bounce'));
    for (const url of [
      'https://evil.example.com/SimpleNotificationService-0123456789abcdef0123456789abcdef.pem',
      'http://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0123456789abcdef0123456789abcdef.pem',
      'https://sns.eu-west-1.amazonaws.com.evil.example/SimpleNotificationService-0123456789abcdef0123456789abcdef.pem',
    ]) {
      await expectRefused(sns.sign({ ...env, SigningCertURL: url }), 400, { fetches: 0 });
    }
  });

  test('topic not allowed: 403, certificate never fetched', async () => {
    const env = wrap(fixtureText('event-bounce'), { TopicArn: 'arn:aws:sns:eu-west-1:999999999999:someone-else' });
    await expectRefused(env, 403, { fetches: 0 });
  });

  test('unknown message type', async () => {
    const env = wrap(fixtureText('event-bounce'));
    await expectRefused(sns.sign({ ...env, Type: 'Surprise' as never }), 400, { fetches: 0 });
  });

  test('non-JSON body', async () => {
    await expectRefused('Type=Notification&Message=hello', 400, { fetches: 0 });
  });

  test('empty body', async () => {
    await expectRefused('', 400, { fetches: 0 });
  });

  test('a signed SubscriptionConfirmation whose SubscribeURL is off an SNS host is not visited', async () => {
    await expectRefused(sns.subscriptionConfirmation({ SubscribeURL: 'https://evil.example/?Action=ConfirmSubscription' }), 400);
  });
});

describe('with SNS_ALLOWED_TOPIC_ARNS empty or missing, no topic is trusted', () => {
  test.each([
    ['a signed bounce', () => wrap(fixtureText('event-bounce'))],
    ['a signed SubscriptionConfirmation', () => sns.subscriptionConfirmation()],
  ])('%s is refused naming the variable, before any certificate is fetched, and changes nothing', async (_what, make) => {
    const fetched: string[] = [];
    const spy = async (url: string) => {
      fetched.push(url);
      return sns.fetchStub(url);
    };
    const res = await post(make(), { config: { snsAllowedTopicArns: [], softBounceLimit: 3 }, fetchCertificate: spy });
    expect(res.status).toBe(500);
    expect(String(res.body.message)).toMatch(/SNS_ALLOWED_TOPIC_ARNS/);
    expect(fetched).toEqual([]);
    expect(subscribeCalls).toEqual([]);
    expect(await subscribers()).toEqual(everyoneActive());
    expect(await eventCount()).toBe(0);
  });

  test('loadConfig without the variable gives an empty list (so the endpoint refuses), and a wildcard is refused', () => {
    const base = { EXECUTOR_SHARED_SECRET: 'x'.repeat(32), APP_BASE_URL: 'https://m.example.com', AWS_REGION: 'eu-west-1', SES_FROM_EMAIL: 'n@example.com', DATABASE_URL: 'postgres://u@h/db' };
    expect(loadConfig(base).snsAllowedTopicArns).toEqual([]);
    expect(loadConfig({ ...base, SNS_ALLOWED_TOPIC_ARNS: ' , ' }).snsAllowedTopicArns).toEqual([]);
    // A wildcard or a typo is not "any topic": the configuration is refused, naming the variable.
    for (const bad of ['*', 'arn:aws:sns:eu-west-1:*:feedback', 'ses-feedback']) {
      expect(() => loadConfig({ ...base, SNS_ALLOWED_TOPIC_ARNS: bad })).toThrow(/SNS_ALLOWED_TOPIC_ARNS must be a comma-separated list of SNS topic ARNs/);
    }
    expect(loadConfig({ ...base, SNS_ALLOWED_TOPIC_ARNS: `${sns.topicArn}, ${DOCS_TOPIC}` }).snsAllowedTopicArns).toEqual([sns.topicArn, DOCS_TOPIC]);
  });
});

describe('a verified message Postgres cannot store is answered 200 (SNS stops retrying) and kept for review', () => {
  async function deadLetters() {
    return (await t.pool.query('select sns_message_id, topic_arn, reason, body, deliveries from sns_dead_letters')).rows;
  }

  test('\\u0000 in the SES message', async () => {
    const bounce = fixture('event-bounce') as Record<string, unknown>;
    const message = JSON.stringify({ ...bounce, note: 'nul \u0000 here' });
    expect(message).toContain('\\u0000');
    const env = wrap(message);
    const res = await post(env);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ keptForReview: true });
    expect(await eventCount()).toBe(0);
    expect(await subscribers()).toEqual(everyoneActive());
    const rows = await deadLetters();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ sns_message_id: env.MessageId, topic_arn: sns.topicArn, deliveries: 1 });
    expect(rows[0].reason).toMatch(/u0000/);
    expect(JSON.parse(rows[0].body)).toMatchObject({ MessageId: env.MessageId, Signature: env.Signature });
    expect(logs.some((l) => l.includes('sns.dead_letter') && l.includes(env.MessageId))).toBe(true);

    // SNS redelivering it changes nothing but the count.
    expect((await post(env)).status).toBe(200);
    expect((await deadLetters())[0].deliveries).toBe(2);
  });

  test('deep nesting', async () => {
    const deep = '['.repeat(5000) + ']'.repeat(5000);
    const env = wrap(`{"eventType":"Bounce","mail":{"messageId":"x"},"junk":${deep}}`);
    const res = await post(env);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ keptForReview: true });
    expect(await eventCount()).toBe(0);
    expect((await deadLetters()).map((r) => r.sns_message_id)).toEqual([env.MessageId]);
  });

  test('a lone surrogate the database refuses (found by Postgres, not beforehand)', async () => {
    const env = wrap('{"eventType":"Bounce","mail":{"messageId":"x"},"note":"\\ud800"}');
    const res = await post(env);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ keptForReview: true });
    expect((await deadLetters()).map((r) => r.sns_message_id)).toEqual([env.MessageId]);
  });

  test('a database that is down is still a 503 (SNS retries), not a dead letter', async () => {
    const down = createPostgresDb('postgres://postgres:postgres@127.0.0.1:1/none', { connectionTimeoutMillis: 500 });
    try {
      const res = await post(wrap('{"note":"nul \\u0000"}'), { db: down });
      expect(res.status).toBe(503);
    } finally {
      await down.close();
    }
  });
});

// ---------------------------------------------------------------------------------------
// Idempotency, durability
// ---------------------------------------------------------------------------------------

test('the same notification delivered three times has one effect', async () => {
  const env = wrap(transientBounce('4.2.2'));
  const results = [await post(env), await post(env), await post(env)];
  expect(results.map((r) => [r.status, r.body.duplicate])).toEqual([
    [200, false],
    [200, true],
    [200, true],
  ]);
  expect((await subscribers())['recipient@example.com']!.soft_bounce_count).toBe(1);
  expect(await eventCount()).toBe(1);
});

test('the same notification delivered three times at once has one effect', async () => {
  const env = wrap(transientBounce('4.2.2'));
  const dbs = [0, 1, 2].map(() => createPostgresDb(t.url, { max: 1 }));
  try {
    const results = await Promise.all(dbs.map((db) => post(env, { db })));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(results.filter((r) => r.body.duplicate === false)).toHaveLength(1);
  } finally {
    await Promise.all(dbs.map((db) => db.close()));
  }
  expect((await subscribers())['recipient@example.com']!.soft_bounce_count).toBe(1);
});

test('a database fault answers 503 (SNS retries) and a later delivery applies it', async () => {
  const down = createPostgresDb('postgres://postgres:postgres@127.0.0.1:1/none', { connectionTimeoutMillis: 500 });
  const env = wrap(fixtureText('event-bounce'));
  try {
    const res = await post(env, { db: down });
    expect(res.status).toBe(503);
    expect(JSON.stringify(res.body)).not.toMatch(/postgres:postgres/);
  } finally {
    await down.close();
  }
  expect(await eventCount()).toBe(0);
  expect((await post(env)).status).toBe(200);
  expect((await subscribers())['recipient@example.com']!.status).toBe('bounced');
});

// ---------------------------------------------------------------------------------------
// Subscription confirmation
// ---------------------------------------------------------------------------------------

test.each(['1', '2'] as const)('SubscriptionConfirmation (v%s): the SubscribeURL is fetched once, after verification', async (version) => {
  const env = sns.subscriptionConfirmation({}, version);
  const res = await post(env);
  expect(res).toMatchObject({ status: 200, body: { confirmed: true } });
  expect(subscribeCalls).toEqual([env.SubscribeURL]);
});

test('SubscriptionConfirmation with a bad signature: the SubscribeURL is not fetched', async () => {
  const env = sns.subscriptionConfirmation();
  const res = await post({ ...env, SubscribeURL: `${env.SubscribeURL}&x=1` });
  expect(res.status).toBe(401);
  expect(subscribeCalls).toEqual([]);
});

test('SubscriptionConfirmation from a topic not allowed: not fetched', async () => {
  const res = await post(sns.subscriptionConfirmation({ TopicArn: 'arn:aws:sns:eu-west-1:999999999999:other' }));
  expect(res.status).toBe(403);
  expect(subscribeCalls).toEqual([]);
});

test('SubscriptionConfirmation whose SubscribeURL confirms another topic than the allowed one it names: not fetched', async () => {
  const other = 'arn:aws:sns:eu-west-1:999999999999:other';
  const env = sns.subscriptionConfirmation({ SubscribeURL: `https://sns.${sns.region}.amazonaws.com/?Action=ConfirmSubscription&TopicArn=${other}&Token=abc` });
  const res = await post(env);
  expect(res.status).toBe(400);
  expect(subscribeCalls).toEqual([]);
});

test('a SubscribeURL that fails or hangs answers 502 so SNS sends the confirmation again', async () => {
  const failing: SubscribeUrlFetcher = async () => ({ ok: false, status: 500 });
  expect((await post(sns.subscriptionConfirmation(), { fetchSubscribeUrl: failing })).status).toBe(502);
  const hanging: SubscribeUrlFetcher = (_u, signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted'))));
  expect((await post(sns.subscriptionConfirmation(), { fetchSubscribeUrl: hanging, fetchTimeoutMs: 100 })).status).toBe(502);
});

test('UnsubscribeConfirmation is verified, logged and answered 200 without fetching anything', async () => {
  const res = await post(sns.unsubscribeConfirmation({}, '2'));
  expect(res.status).toBe(200);
  expect(subscribeCalls).toEqual([]);
  expect(logs.some((l) => l.includes('sns.unsubscribe_confirmation'))).toBe(true);
});

// ---------------------------------------------------------------------------------------
// Per-mailout counts, before and after the send is recorded; Notion refresh coalescing
// ---------------------------------------------------------------------------------------

async function sentMailout(id: string, extra = 0): Promise<Map<string, string>> {
  if (extra > 0) {
    await t.pool.query(
      `insert into subscribers (email, source) select 'bulk' || g || '@example.com', 'test' from generate_series(1, $1) g`,
      [extra],
    );
  }
  const c = await t.ledger.claim(id, { leaseSeconds: 60, content: STORED_LETTER });
  const batch = await t.ledger.run(leaseOf(c)).claimBatch({ limit: 1000 });
  const ids = new Map(batch.map((b) => [b.email, `ses-${id}-${b.subscriberId}`]));
  await t.ledger.run(leaseOf(c)).record(batch.map((b) => ({ subscriberId: b.subscriberId, status: 'sent' as const, sesMessageId: ids.get(b.email)! })));
  return ids;
}

function eventFor(name: string, sesMessageId: string, extra: Record<string, unknown> = {}): Record<string, Record<string, unknown>> {
  const sample = fixture(name) as { mail: Record<string, unknown> } & Record<string, unknown>;
  return { ...sample, mail: { ...sample.mail, messageId: sesMessageId }, ...extra } as Record<string, Record<string, unknown>>;
}

test('feedback stats count recipients per mailout, also when the event arrived before the send was recorded', async () => {
  const c = await t.ledger.claim('bfd3bd2a-0329-8e44-9c70-78353640e723', { leaseSeconds: 60, content: STORED_LETTER });
  const batch = await t.ledger.run(leaseOf(c)).claimBatch({ limit: 100 });
  const byEmail = new Map(batch.map((b) => [b.email, b.subscriberId]));
  const rid = byEmail.get('recipient@example.com')!;
  const jid = byEmail.get('jane@example.com')!;

  // SES answers fast: the delivery and the bounce arrive before record_results stores the ids.
  await post(wrap(eventFor('event-delivery', 'early-r')));
  await post(wrap(eventFor('notification-bounce-with-dsn', 'early-j')));
  await post(wrap(eventFor('notification-complaint-with-feedback', 'early-x')));
  expect(await mailoutFeedbackStats(t.db, 'bfd3bd2a-0329-8e44-9c70-78353640e723')).toEqual({ sends: 0, delivered: 0, hardBounces: 0, softBounces: 0, complaints: 0 });

  await t.ledger.run(leaseOf(c)).record([
    { subscriberId: rid, status: 'sent', sesMessageId: 'early-r' },
    { subscriberId: jid, status: 'sent', sesMessageId: 'early-j' },
  ]);
  expect(await mailoutFeedbackStats(t.db, 'bfd3bd2a-0329-8e44-9c70-78353640e723')).toEqual({ sends: 2, delivered: 1, hardBounces: 1, softBounces: 0, complaints: 0 });
  // The bounce still moved jane, though no delivery carried its id at the time.
  expect((await subscribers())['jane@example.com']!.status).toBe('bounced');
});

test('stats: duplicates and repeated events count a recipient once; auto-pause thresholds', async () => {
  const ids = await sentMailout('16346949-b12a-804e-b11e-398a6b11daa3', 200);
  const emails = [...ids.keys()];
  for (const e of emails.slice(0, 10)) {
    const bounce = eventFor('event-bounce', ids.get(e)!);
    bounce.bounce!.bouncedRecipients = [{ emailAddress: e, status: '5.1.1' }];
    bounce.bounce!.feedbackId = randomUUID();
    const env = wrap(bounce);
    await post(env);
    await post(env);
  }
  const complaint = eventFor('event-complaint', ids.get(emails[20]!)!);
  complaint.complaint!.complainedRecipients = [{ emailAddress: emails[20] }];
  await post(wrap(complaint));
  const stats = await mailoutFeedbackStats(t.db, '16346949-b12a-804e-b11e-398a6b11daa3');
  expect(stats).toEqual({ sends: 206, delivered: 0, hardBounces: 10, softBounces: 0, complaints: 1 });
  expect(autoPauseReason(stats)).toMatch(/complaint rate 0\.49% \(1 of 206\) reached 0\.1%/);
  expect(autoPauseReason({ ...stats, hardBounces: 10, complaints: 0 })).toBeNull();
  expect(autoPauseReason({ ...stats, sends: 99, hardBounces: 50 })).toBeNull();
  expect(autoPauseReason({ sends: 100, delivered: 0, hardBounces: 5, softBounces: 0, complaints: 0 })).toMatch(/hard-bounce rate 5\.0% \(5 of 100\) reached 5%/);
});

test('a burst of 50 events for one mailout refreshes its Notion counts once or twice, and the throttle releases later', async () => {
  const ids = await sentMailout('22e60b86-b552-8d96-8580-6b18f6c43c3f', 50);
  const calls: string[] = [];
  const refresh = async (id: string) => {
    calls.push(id);
  };
  const envs = [...ids.values()].slice(0, 50).map((id) => wrap(eventFor('event-delivery', id)));
  expect(envs).toHaveLength(50);
  const results = await Promise.all(envs.map((e) => post(e, { refreshNotionCounts: refresh })));
  expect(results.every((r) => r.status === 200)).toBe(true);
  expect(calls.length).toBeGreaterThanOrEqual(1);
  expect(calls.length).toBeLessThanOrEqual(2);
  expect(new Set(calls)).toEqual(new Set(['22e60b86-b552-8d96-8580-6b18f6c43c3f']));

  // The burst's last counts are pending; a cron flush (interval 0 here) claims them once.
  expect(await claimPendingNotionRefreshes(t.db, 0)).toEqual(['22e60b86-b552-8d96-8580-6b18f6c43c3f']);
  expect(await claimPendingNotionRefreshes(t.db, 0)).toEqual([]);

  // After the interval a new event refreshes again.
  await t.pool.query(`update notion_refresh set refreshed_at = now() - interval '11 seconds'`);
  await post(wrap(eventFor('event-open', ids.values().next().value!)), { refreshNotionCounts: refresh });
  expect(calls.length).toBeGreaterThanOrEqual(2);
});

test('a failing Notion refresh is logged and the answer stays 200', async () => {
  const ids = await sentMailout('be480c8f-1a95-8494-9017-123def6a167b');
  const res = await post(wrap(eventFor('event-bounce', ids.get('recipient@example.com')!)), {
    refreshNotionCounts: async () => {
      throw new Error('Notion is down');
    },
  });
  expect(res.status).toBe(200);
  expect((await subscribers())['recipient@example.com']!.status).toBe('bounced');
  expect(logs.some((l) => l.includes('sns.notion_refresh_failed'))).toBe(true);
});

test('with waitUntil, the refresh runs after the answer', async () => {
  const ids = await sentMailout('4e6dfd36-066c-8502-b91f-0103adc413b3');
  const deferred: Promise<unknown>[] = [];
  let refreshed = false;
  const res = await post(wrap(eventFor('event-delivery', ids.get('recipient@example.com')!)), {
    refreshNotionCounts: async () => {
      await new Promise((r) => setTimeout(r, 20));
      refreshed = true;
    },
    waitUntil: (p) => deferred.push(p),
  });
  expect(res.status).toBe(200);
  expect(deferred).toHaveLength(1);
  await Promise.all(deferred);
  expect(refreshed).toBe(true);
});

test('events for a message that is no mailout\'s (and a duplicate) never call the refresher', async () => {
  const calls: string[] = [];
  const env = wrap(fixtureText('event-bounce'));
  await post(env, { refreshNotionCounts: async (id) => void calls.push(id) });
  expect(calls).toEqual([]);
});

test('the mailout tag on configuration-set events names the mailout before the ledger has the SES id', async () => {
  await t.ledger.claim('c44cd874-ea34-81d9-a1da-7a0d877acbd0', { leaseSeconds: 60, content: STORED_LETTER });
  const calls: string[] = [];
  const ev = eventFor('event-delivery', 'not-yet-recorded');
  (ev.mail!.tags as Record<string, string[]>).mailout_id = ['c44cd874-ea34-81d9-a1da-7a0d877acbd0'];
  await post(wrap(ev), { refreshNotionCounts: async (id) => void calls.push(id) });
  expect(calls).toEqual(['c44cd874-ea34-81d9-a1da-7a0d877acbd0']);
});

// ---------------------------------------------------------------------------------------
// The Web handler
// ---------------------------------------------------------------------------------------

test('POST /api/ses-events reads the text/plain body SNS sends and maps the outcome to the status', async () => {
  const handler = createSesEventsHandler(() => deps());
  const env = wrap(fixtureText('event-complaint'));
  const ok = await handler(
    new Request('http://localhost/api/ses-events', {
      method: 'POST',
      headers: { 'content-type': 'text/plain; charset=UTF-8', 'x-amz-sns-message-type': 'Notification' },
      body: JSON.stringify(env),
    }),
  );
  expect(ok.status).toBe(200);
  expect(await ok.json()).toMatchObject({ ok: true, eventType: 'Complaint' });
  expect((await subscribers())['recipient@example.com']!.status).toBe('complained');

  const bad = await handler(new Request('http://localhost/api/ses-events', { method: 'POST', body: 'nope' }));
  expect(bad.status).toBe(400);
  const get = await handler(new Request('http://localhost/api/ses-events'));
  expect(get.status).toBe(405);
});
