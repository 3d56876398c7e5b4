import fs from 'node:fs';
import path from 'node:path';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Db } from '../../lib/db/types';
import { AppError } from '../../lib/errors';
import { redriveDeadLetters } from '../../lib/feedback/redrive';
import { handleSnsRequest, type SnsDeps } from '../../lib/feedback/sns-handler';
import { createSnsSigner } from '../../scripts/fakes/sns';
import { startFakeSqs, type FakeSqs } from '../fakes/sqs';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

/**
 * Feedback survives an outage longer than SNS retries: the notification SNS gave up on lands
 * in the dead-letter queue (its body is the signed notification SNS would have posted), and
 * `npm run feedback:redrive` replays it through the same handler, applying it exactly once.
 * SQS is faked at its HTTP boundary (tests/fakes/sqs.ts); the real @aws-sdk/client-sqs talks to it.
 */
const sns = createSnsSigner({ region: 'eu-west-1' });
const config = { snsAllowedTopicArns: [sns.topicArn], softBounceLimit: 3 };
let t: TestDatabase;
let sqs: FakeSqs;
let client: SQSClient;
let queueUrl: string;

/** A database that is down: every call fails as a refused connection does. */
const down: Db = new Proxy({} as Db, {
  get: (_target, prop) => (prop === 'rpc' ? async () => Promise.reject(new AppError('database', 'connect ECONNREFUSED 10.0.0.5:5432')) : undefined),
});

function bounceFor(email: string): string {
  const event = fs.readFileSync(path.join(__dirname, 'fixtures', 'event-bounce.json'), 'utf8').replaceAll('recipient@example.com', email);
  return JSON.stringify(sns.notification({ Message: event }));
}

const deps = (db: Db): SnsDeps => ({ db, config, fetchCertificate: sns.fetchStub });
const status = async (email: string) => (await t.pool.query(`select status from subscribers where email = $1`, [email])).rows[0]?.status;

beforeAll(async () => {
  t = await createTestDatabase();
  sqs = await startFakeSqs({ region: 'eu-west-1' });
  client = new SQSClient({ region: 'eu-west-1', endpoint: sqs.url, credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' } });
  queueUrl = sqs.createQueue('mailout-ses-events-dlq');
});
afterAll(async () => {
  client.destroy();
  await sqs.close();
  await t.drop();
});
beforeEach(async () => {
  await t.pool.query('truncate subscribers, ses_events cascade');
});

test('a bounce refused during a database outage is applied after the replay, exactly once; a second replay finds nothing', async () => {
  await t.pool.query(`insert into subscribers (email) values ('reader@example.com')`);
  const body = bounceFor('reader@example.com');

  // During the outage the endpoint answers 503 (SNS retries, then moves the message to the queue).
  expect((await handleSnsRequest(body, deps(down))).status).toBe(503);
  sqs.send(queueUrl, body);
  // SNS delivers at least once: the same notification may also reach the queue twice.
  sqs.send(queueUrl, body);

  expect(await redriveDeadLetters({ sqs: client, queueUrl, sns: deps(t.db) })).toEqual({ received: 2, applied: 1, alreadyApplied: 1, left: 0 });
  expect(await status('reader@example.com')).toBe('bounced');
  expect((await t.pool.query(`select count(*)::int as n from ses_events`)).rows[0].n).toBe(1);
  expect(sqs.messages(queueUrl)).toEqual([]);

  expect(await redriveDeadLetters({ sqs: client, queueUrl, sns: deps(t.db) })).toEqual({ received: 0, applied: 0, alreadyApplied: 0, left: 0 });
});

test('a replay while the database is still down deletes nothing: the message waits for the next run', async () => {
  const body = bounceFor('later@example.com');
  sqs.send(queueUrl, body);
  const deletes = () => sqs.requests.filter((r) => r.operation === 'DeleteMessage').length;
  const before = deletes();
  expect(await redriveDeadLetters({ sqs: client, queueUrl, sns: deps(down) })).toEqual({ received: 1, applied: 0, alreadyApplied: 0, left: 1 });
  expect(sqs.messages(queueUrl)).toEqual([body]);
  expect(deletes()).toBe(before);
});
