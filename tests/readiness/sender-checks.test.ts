import { senderChecks, type Check } from '../../lib/readiness';
import { startTxtDnsServer } from '../../scripts/local/dns-server';
import { checkDmarc, createTxtResolver } from '../../lib/readiness/dmarc';
import { executorPolicy } from '../../scripts/setup/aws';
import { APP, startReadySender, type ReadySender } from './ready-sender';

/**
 * The checks that guard a live send, against SES, SNS and DNS at their boundaries: a ready
 * sender passes, and each thing mailbox providers (or our own feedback) need refuses or warns
 * with the check that names it.
 */

let s: ReadySender;
beforeEach(async () => {
  s = await startReadySender();
});
afterEach(async () => {
  await s.close();
});

async function run(env: Record<string, string> = {}, recipients = 100): Promise<Check[]> {
  const config = s.config(env);
  return senderChecks(config, s.clients(config), recipients);
}
const byName = (checks: Check[], prefix: string) => checks.find((c) => c.name.startsWith(prefix))!;
const failures = (checks: Check[]) => checks.filter((c) => c.status === 'fail').map((c) => c.name);

test('a ready sender passes every check, each with what it found', async () => {
  const checks = await run();
  expect(checks.map((c) => [c.status, c.name])).toEqual([
    ['ok', 'SES account'],
    ['ok', 'Sender identity (news@example.com)'],
    ['ok', 'DKIM'],
    ['ok', 'Custom MAIL FROM'],
    ['ok', 'DMARC (example.com)'],
    ['ok', 'Configuration set (mailout)'],
    ['ok', 'SNS subscription'],
  ]);
  expect(byName(checks, 'DMARC').detail).toBe('_dmarc.example.com: p=quarantine');
  expect(byName(checks, 'Configuration set').detail).toContain(s.topicArn);
  expect(s.aws.writes()).toEqual([]);
});

describe('the SES account', () => {
  test.each([
    [{ SendingEnabled: false }, /SendingEnabled: false/],
    [{ EnforcementStatus: 'SHUTDOWN' }, /enforcement status SHUTDOWN/],
    [{ ProductionAccessEnabled: false }, /sandbox/],
    [{ SendQuota: { Max24HourSend: 200, MaxSendRate: 1, SentLast24Hours: 150 } }, /50 of 200 sends left in 24 hours, the list needs 100/],
  ])('%j refuses', async (account, detail) => {
    s.aws.account = account;
    const check = byName(await run(), 'SES account');
    expect(check).toMatchObject({ status: 'fail', detail: expect.stringMatching(detail) });
    expect(check.fix).not.toBe('');
  });

  test('probation warns', async () => {
    s.aws.account = { EnforcementStatus: 'PROBATION' };
    expect(byName(await run(), 'SES account').status).toBe('warn');
  });
});

describe('the sender identity', () => {
  test('no identity for the address or its domain refuses, naming the domain to verify', async () => {
    s.aws.identities.clear();
    const checks = await run();
    expect(byName(checks, 'Sender identity')).toMatchObject({ status: 'fail', fix: expect.stringContaining('Verify the domain example.com') });
    expect(failures(checks)).toContain('DKIM');
  });

  test('a domain not verified for sending refuses', async () => {
    s.aws.addIdentity('example.com', { VerifiedForSendingStatus: false, VerificationStatus: 'PENDING' });
    expect(byName(await run(), 'Sender identity')).toMatchObject({ status: 'fail', detail: expect.stringContaining('verification PENDING') });
  });

  test('a verified address whose domain is not verified is the identity, and without DKIM it refuses', async () => {
    s.aws.identities.clear();
    s.aws.addIdentity('news@example.com', { DkimAttributes: { SigningEnabled: false, Status: 'NOT_STARTED', Tokens: [] } });
    const checks = await run();
    expect(byName(checks, 'Sender identity')).toMatchObject({ status: 'ok', detail: expect.stringContaining('news@example.com (EMAIL_ADDRESS)') });
    expect(byName(checks, 'DKIM')).toMatchObject({ status: 'fail', detail: 'DKIM signing is off for news@example.com' });
  });

  test.each(['PENDING', 'FAILED', 'TEMPORARY_FAILURE', 'NOT_STARTED'])('DKIM status %s refuses, listing the CNAME records', async (status) => {
    s.aws.addIdentity('example.com', { DkimAttributes: { SigningEnabled: true, Status: status, Tokens: ['tok1', 'tok2', 'tok3'], SigningAttributesOrigin: 'AWS_SES' } });
    const check = byName(await run(), 'DKIM');
    expect(check).toMatchObject({ status: 'fail', detail: `Easy DKIM status of example.com is ${status}, not SUCCESS` });
    expect(check.fix).toContain('tok1._domainkey');
  });

  test('BYODKIM with SUCCESS passes', async () => {
    s.aws.addIdentity('example.com', { DkimAttributes: { SigningEnabled: true, Status: 'SUCCESS', SigningAttributesOrigin: 'EXTERNAL', Tokens: [] } });
    expect(byName(await run(), 'DKIM')).toMatchObject({ status: 'ok', detail: 'BYODKIM signs as example.com (SUCCESS)' });
  });

  test('no custom MAIL FROM domain, or one not SUCCESS, warns only', async () => {
    s.aws.addIdentity('example.com', { MailFromAttributes: undefined });
    expect(byName(await run(), 'Custom MAIL FROM').status).toBe('warn');
    s.aws.addIdentity('example.com', { MailFromAttributes: { MailFromDomain: 'bounce.example.com', MailFromDomainStatus: 'FAILED', BehaviorOnMxFailure: 'USE_DEFAULT_VALUE' } });
    const checks = await run();
    expect(byName(checks, 'Custom MAIL FROM')).toMatchObject({ status: 'warn', detail: 'bounce.example.com is FAILED, not SUCCESS' });
    expect(failures(checks)).toEqual([]);
  });

  test('SES refusing the read (no permission) refuses, naming the permission', async () => {
    s.aws.failures.set('GetEmailIdentity', { status: 403, code: 'AccessDeniedException', message: 'not authorized to perform: ses:GetEmailIdentity' });
    expect(byName(await run(), 'Sender identity')).toMatchObject({ status: 'fail', fix: expect.stringContaining('ses:GetEmailIdentity') });
  });
});

describe('DMARC', () => {
  test('a record at the organizational domain counts for a subdomain sender', async () => {
    s.aws.addIdentity('news.example.com');
    const check = byName(await run({ SES_FROM_EMAIL: 'letters@news.example.com' }), 'DMARC');
    expect(check).toMatchObject({ status: 'ok', detail: '_dmarc.example.com: p=quarantine' });
  });

  test('a record split into several strings is read whole', async () => {
    s.txt.set('_dmarc.example.com', ['v=DMARC1; p=reject; rua=mailto:' + 'a'.repeat(300) + '@example.com']);
    expect(byName(await run(), 'DMARC').detail).toBe('_dmarc.example.com: p=reject');
  });

  test('a lookup that fails (no DNS server answers) warns on a small list and refuses above 5,000', async () => {
    const silent = await startTxtDnsServer(() => null);
    await silent.close(); // nothing listens on its port any more
    const resolver = createTxtResolver([silent.address]);
    expect(await checkDmarc(resolver, 'example.com', 100)).toMatchObject({ status: 'warn', detail: expect.stringMatching(/the DNS lookup failed \(E[A-Z]+\)/) });
    expect(await checkDmarc(resolver, 'example.com', 5_001)).toMatchObject({ status: 'fail', detail: expect.stringContaining('required above 5,000 recipients') });
  });

  test('missing: a warning up to 5,000 recipients, a refusal above', async () => {
    s.txt.clear();
    s.txt.set('_dmarc.example.com', ['some other TXT record']);
    expect(byName(await run({}, 5_000), 'DMARC')).toMatchObject({ status: 'warn', fix: expect.stringContaining('_dmarc.example.com') });
    expect(byName(await run({}, 5_001), 'DMARC')).toMatchObject({ status: 'fail', detail: expect.stringContaining('this list: 5,001') });
  });
});

describe('feedback: the configuration set and its SNS subscription (no feedback, no live send)', () => {
  test('no SES_CONFIGURATION_SET and no default set on the identity refuses, naming the variable', async () => {
    const check = byName(await run({ SES_CONFIGURATION_SET: '' }), 'Configuration set');
    expect(check).toMatchObject({ status: 'fail', detail: expect.stringContaining('SES_CONFIGURATION_SET is not set') });
    expect(check.fix).toContain('npm run setup:aws');
  });

  test("the identity's default configuration set applies when SES_CONFIGURATION_SET is not set", async () => {
    s.aws.addIdentity('example.com', { ConfigurationSetName: 'mailout' });
    expect(byName(await run({ SES_CONFIGURATION_SET: '' }), 'Configuration set')).toMatchObject({ status: 'ok', name: 'Configuration set (mailout)' });
  });

  test('a configuration set SES does not have refuses', async () => {
    expect(byName(await run({ SES_CONFIGURATION_SET: 'typo' }), 'Configuration set')).toMatchObject({ status: 'fail', detail: 'SES has no configuration set "typo"' });
  });

  test('SNS_ALLOWED_TOPIC_ARNS empty refuses, naming it', async () => {
    expect(byName(await run({ SNS_ALLOWED_TOPIC_ARNS: '' }), 'Configuration set').detail).toMatch(/SNS_ALLOWED_TOPIC_ARNS is not set/);
  });

  test.each([
    ['without Bounce', { MatchingEventTypes: ['SEND', 'COMPLAINT', 'DELIVERY'] }, /publishes BOUNCE to a topic/],
    ['without Complaint', { MatchingEventTypes: ['SEND', 'BOUNCE', 'DELIVERY'] }, /publishes COMPLAINT to a topic/],
    ['disabled', { Enabled: false }, /other destinations: mailout-sns \(disabled/],
    ['to a topic not in SNS_ALLOWED_TOPIC_ARNS', { SnsDestination: { TopicArn: 'arn:aws:sns:eu-west-1:123456789012:someone-else' } }, /someone-else/],
  ])('an event destination %s refuses', async (_what, change, detail) => {
    const set = s.aws.configurationSets.get('mailout')!;
    set.set('mailout-sns', { ...set.get('mailout-sns')!, ...change });
    const checks = await run();
    expect(byName(checks, 'Configuration set')).toMatchObject({ status: 'fail', detail: expect.stringMatching(detail) });
    expect(byName(checks, 'SNS subscription').status).toBe('fail');
  });

  test('Delivery and Send are wanted: without them it warns', async () => {
    const set = s.aws.configurationSets.get('mailout')!;
    set.set('mailout-sns', { ...set.get('mailout-sns')!, MatchingEventTypes: ['BOUNCE', 'COMPLAINT'] });
    expect(byName(await run(), 'Configuration set')).toMatchObject({ status: 'warn', detail: expect.stringContaining('not DELIVERY or SEND') });
  });

  test('a subscription pending confirmation refuses', async () => {
    s.aws.subscriptions[0]!.pending = true;
    expect(byName(await run(), 'SNS subscription')).toMatchObject({ status: 'fail', fix: expect.stringContaining('--resend-confirmation') });
  });

  test("no subscription of this deployment's endpoint refuses", async () => {
    s.aws.subscriptions[0]!.endpoint = 'https://old-deployment.example.com/api/ses-events';
    expect(byName(await run(), 'SNS subscription')).toMatchObject({ status: 'fail', detail: expect.stringContaining(`${APP}/api/ses-events`) });
  });
});

test("the IAM policy setup:aws prints allows every call the checks make, and nothing more than SendEmail besides", async () => {
  await run();
  const called = new Set(s.aws.requests.map((r) => `${r.service === 'sns' ? 'sns' : 'ses'}:${r.operation}`));
  const policy = executorPolicy({ region: 'eu-west-1', accountId: s.aws.accountId, configurationSetName: 'mailout', fromEmail: 'news@example.com', topicArn: s.topicArn });
  const allowed = policy.Statement.flatMap((st) => (Array.isArray(st.Action) ? st.Action : [st.Action]));
  // Besides SendEmail, only feedback:redrive's queue reads (tests/feedback/feedback-redrive.test.ts).
  const others = allowed.filter((a) => a !== 'ses:SendEmail' && !a.startsWith('sqs:'));
  expect(new Set(others)).toEqual(called);
  const subscription = policy.Statement.find((st) => st.Action === 'sns:ListSubscriptionsByTopic')!;
  expect(subscription.Resource).toBe(s.topicArn);
});
