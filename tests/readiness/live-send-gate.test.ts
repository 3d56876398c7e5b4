import { isAppError } from '../../lib/errors';
import { senderChecks, type ReadinessClients } from '../../lib/readiness';
import { startMailout, type SendDeps } from '../../lib/send';
import { silentReporter, type MailoutReporter } from '../../lib/mailout-reporter';
import type { FakeSes } from '../../scripts/fakes/ses';
import { seedSubscribers, type TestDatabase } from '../helpers/db';
import { sendDeps, testConfig, useSendTestBed } from '../send/helpers';
import { startReadySender, type ReadySender } from './ready-sender';

/**
 * The readiness checks guard a live send (lib/send/start.ts): once per mailout, before the
 * claim. A ✖ answers 412 naming the fix, claims nothing, sends nothing and tells the page;
 * ⚠ go into the answer, the page and the log; a continuation does not ask again; a test
 * send and a dry run report everything and refuse nothing.
 */

const bed = useSendTestBed();
let t: TestDatabase;
let ses: FakeSes;
let s: ReadySender;
let clients: ReadinessClients;
const MAILOUT = 'b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e';

beforeEach(async () => {
  ({ t, ses } = bed);
  await seedSubscribers(t.pool, 20);
  s = await startReadySender();
  clients = s.clients(s.config());
});
afterEach(async () => {
  await s.close();
});

function recordingReporter() {
  const refused: string[] = [];
  const sending: (string[] | undefined)[] = [];
  const reporter: MailoutReporter = {
    ...silentReporter,
    refused: async (_id, reason) => void refused.push(reason),
    sending: async (_id, info) => void sending.push(info.warnings),
  };
  return { reporter, refused, sending };
}

/** A sender whose letters go to the SES fake, and whose readiness is asked of SES, SNS and DNS at the boundary. */
function deps(overrides: Partial<SendDeps> = {}, env: Record<string, string> = {}): SendDeps {
  const config = testConfig(t, ses.url, { SES_CONFIGURATION_SET: 'mailout', SNS_ALLOWED_TOPIC_ARNS: s.topicArn, ...env });
  return sendDeps(config, t, { readiness: (n) => senderChecks(config, clients, n), ...overrides });
}

const live = { mailoutId: MAILOUT, fromNotion: true, dryRun: false, continuation: false };
const identityReads = () => s.aws.requests.filter((r) => r.operation === 'GetEmailIdentity').length;

async function refusal(d: SendDeps, req = live): Promise<{ status: number; message: string; failures: string[] }> {
  const err = await startMailout(d, req).then(
    () => null,
    (e: unknown) => e,
  );
  if (!isAppError(err)) throw new Error(`expected a refusal, got ${String(err)}`);
  return { status: err.status, message: err.message, failures: (err.details?.failures as string[]) ?? [] };
}

test('a ready sender sends', async () => {
  const res = await startMailout(deps(), live);
  expect(res.status).toBe(202);
  expect(res.body).not.toHaveProperty('warnings');
  expect((await res.run!()).outcome).toBe('complete');
  expect(ses.sentCount).toBe(20);
});

test.each([
  ['DKIM not SUCCESS', () => s.aws.addIdentity('example.com', { DkimAttributes: { SigningEnabled: true, Status: 'PENDING', Tokens: ['t1'] } }), /DKIM: Easy DKIM status of example.com is PENDING/],
  ['the identity not verified', () => s.aws.identities.clear(), /Sender identity \(news@example.com\): SES has no identity/],
  ['no Bounce or Complaint destination', () => s.aws.configurationSets.get('mailout')!.clear(), /Configuration set \(mailout\): no enabled event destination publishes BOUNCE and COMPLAINT/],
  ['the account paused', () => (s.aws.account = { SendingEnabled: false }), /SES account: sending is disabled/],
  ['the SNS subscription never confirmed', () => (s.aws.subscriptions[0]!.pending = true), /SNS subscription: .*pending confirmation/],
])('%s: 412 naming the fix, nothing claimed or sent, the page told why', async (_what, breakIt, named) => {
  breakIt();
  const { reporter, refused } = recordingReporter();
  const r = await refusal(deps({ reporter }));
  expect(r.status).toBe(412);
  expect(r.message).toMatch(named);
  expect(r.message).toMatch(/→ \S/); // the fix follows each failure
  expect(r.message).toMatch(/Nothing was claimed or sent/);
  expect(await t.ledger.exists(MAILOUT)).toBe(false);
  expect(ses.callCount).toBe(0);
  expect(refused).toHaveLength(1);
  expect(refused[0]).toMatch(named);
});

test('no feedback, no live send: without SES_CONFIGURATION_SET (and no default set on the identity) a live send is refused, naming it', async () => {
  const r = await refusal(deps({}, { SES_CONFIGURATION_SET: '' }));
  expect(r).toMatchObject({ status: 412, message: expect.stringContaining('SES_CONFIGURATION_SET is not set') });
  expect(await t.ledger.exists(MAILOUT)).toBe(false);
});

test('warnings go into the answer and onto the page, and the send goes ahead', async () => {
  s.aws.addIdentity('example.com', { MailFromAttributes: undefined });
  const { reporter, sending } = recordingReporter();
  const res = await startMailout(deps({ reporter }), live);
  expect(res.status).toBe(202);
  expect(res.body.warnings).toEqual([expect.stringMatching(/^Custom MAIL FROM: none.* → Set a custom MAIL FROM domain/)]);
  expect(sending).toEqual([[expect.stringMatching(/^Custom MAIL FROM/)]]);
  await res.run!();
});

test('checked once per mailout: a continuation does not ask again; a new press of the button does', async () => {
  const first = await startMailout(deps({ deadline: () => Date.now() - 1 }), live);
  expect((await first.run!()).outcome).toBe('released');
  const reads = identityReads();
  expect(reads).toBeGreaterThan(0);

  s.aws.addIdentity('example.com', { DkimAttributes: { SigningEnabled: true, Status: 'FAILED', Tokens: [] } });
  const continuation = await startMailout(deps(), { ...live, continuation: true });
  expect(continuation.status).toBe(202);
  expect(identityReads()).toBe(reads);
  await continuation.run!();
  expect(ses.sentCount).toBe(20);

  await t.pool.query('truncate mailouts, deliveries cascade');
  expect((await refusal(deps(), live)).message).toMatch(/DKIM/);
  expect(identityReads()).toBeGreaterThan(reads);
});

test('a "continuation" of a mailout never claimed is checked like a first send', async () => {
  s.aws.identities.clear();
  expect((await refusal(deps(), { ...live, continuation: true })).status).toBe(412);
  expect(await t.ledger.exists(MAILOUT)).toBe(false);
});

test('a test send and a dry run with a sender that is not ready refuse nothing and report every check that is not ✔', async () => {
  s.aws.identities.clear();
  const test = await startMailout(deps(), { ...live, mode: 'test' });
  expect(test.status).toBe(200);
  expect(test.body.warnings).toEqual(expect.arrayContaining([expect.stringMatching(/^Sender identity/), expect.stringMatching(/^DKIM/)]));
  expect(ses.sentCount).toBe(2); // TEST_EMAILS

  const dry = await startMailout(deps({}, { SES_CONFIGURATION_SET: '' }), { ...live, dryRun: true });
  expect(dry.status).toBe(200);
  expect(dry.body.warnings).toEqual(expect.arrayContaining([expect.stringMatching(/SES_CONFIGURATION_SET is not set/)]));
  expect(await t.ledger.exists(MAILOUT)).toBe(false);
});
