import { SNSClient } from '@aws-sdk/client-sns';
import { SESv2Client } from '@aws-sdk/client-sesv2';
import { SQSClient } from '@aws-sdk/client-sqs';
import { STSClient } from '@aws-sdk/client-sts';
import { AppError } from '../../lib/errors';
import { executorPolicy, policyOnly, setupAws, type AwsClients, type AwsSetupOptions } from '../../scripts/setup/aws';
import { SNS_DELIVERY_POLICY } from '../../scripts/setup/dead-letter-queue';
import { FakeAws } from './fake-aws';
import { startFakeSqs, type FakeSqs } from '../fakes/sqs';

let fake: FakeAws;
let sqs: FakeSqs;
let clients: AwsClients;

const credentials = { accessKeyId: 'AKIDSETUPTEST', secretAccessKey: 'setup-test-secret-key' };
const APP = 'https://mailout.example.com';
const ENDPOINT = `${APP}/api/ses-events`;

function options(overrides: Partial<AwsSetupOptions> = {}): AwsSetupOptions {
  return { region: 'eu-west-1', appBaseUrl: APP, dryRun: false, fromEmail: 'news@example.com', ...overrides };
}

beforeEach(async () => {
  fake = new FakeAws();
  const endpoint = await fake.start();
  const common = { region: 'eu-west-1', endpoint, credentials, maxAttempts: 1 };
  sqs = await startFakeSqs({ region: 'eu-west-1', accountId: fake.accountId });
  clients = { sns: new SNSClient(common), ses: new SESv2Client(common), sts: new STSClient(common), sqs: new SQSClient({ ...common, endpoint: sqs.url }) };
});

afterEach(async () => {
  clients.sns.destroy();
  clients.ses.destroy();
  clients.sts.destroy();
  clients.sqs.destroy();
  await fake.stop();
  await sqs.close();
});

describe('setup:aws on an empty account', () => {
  test('creates the topic, the HTTPS subscription, the configuration set and its event destination, in that order', async () => {
    fake.addTopic('some-other-topic');
    fake.addTopic('alerts');
    fake.addTopic('billing');

    const result = await setupAws(clients, options());

    expect(fake.operations()).toEqual([
      'ListTopics',
      'ListTopics', // second page (NextToken)
      'CreateTopic',
      'ListSubscriptionsByTopic',
      'Subscribe',
      'GetConfigurationSet',
      'CreateConfigurationSet',
      'CreateConfigurationSetEventDestination',
    ]);
    const topicArn = fake.topicArn('mailout-ses-events');
    const req = (op: string) => fake.requests.find((r) => r.operation === op)!;
    expect(req('CreateTopic').params.Name).toBe('mailout-ses-events');
    expect(req('Subscribe').params).toMatchObject({ TopicArn: topicArn, Protocol: 'https', Endpoint: ENDPOINT });
    expect(req('CreateConfigurationSet').body).toEqual({ ConfigurationSetName: 'mailout' });
    expect(req('CreateConfigurationSetEventDestination').path).toBe('/v2/email/configuration-sets/mailout/event-destinations');
    expect(req('CreateConfigurationSetEventDestination').body).toEqual({
      EventDestinationName: 'mailout-sns',
      EventDestination: {
        Enabled: true,
        MatchingEventTypes: ['BOUNCE', 'COMPLAINT', 'DELIVERY', 'REJECT', 'SEND', 'RENDERING_FAILURE', 'DELIVERY_DELAY'],
        SnsDestination: { TopicArn: topicArn },
      },
    });

    const queueArn = 'arn:aws:sqs:eu-west-1:123456789012:mailout-ses-events-dlq';
    expect(fake.subscriptions).toEqual([
      expect.objectContaining({
        topicArn,
        protocol: 'https',
        endpoint: ENDPOINT,
        pending: true,
        // Retried for as long as SNS allows, then kept in the dead-letter queue.
        attributes: { RawMessageDelivery: 'false', DeliveryPolicy: JSON.stringify(SNS_DELIVERY_POLICY), RedrivePolicy: JSON.stringify({ deadLetterTargetArn: queueArn }) },
      }),
    ]);
    expect(sqs.requests.map((r) => r.operation)).toEqual(['GetQueueUrl', 'CreateQueue']);
    const created = sqs.requests[1]!.body as { QueueName: string; Attributes: Record<string, string> };
    expect(created.QueueName).toBe('mailout-ses-events-dlq');
    expect(JSON.parse(created.Attributes.Policy!).Statement[0]).toMatchObject({
      Principal: { Service: 'sns.amazonaws.com' },
      Action: 'sqs:SendMessage',
      Resource: queueArn,
      Condition: { ArnEquals: { 'aws:SourceArn': topicArn } },
    });
    expect(result.deadLetterQueueArn).toBe(queueArn);
    expect(result).toMatchObject({ topicArn, configurationSetName: 'mailout', subscription: 'created', endpoint: ENDPOINT, ok: true });
    expect(result.steps.find((s) => s.message.startsWith('subscribed'))!.message).toMatch(/pending confirmation; the endpoint confirms itself/);
  });

  test('--dry-run makes only read calls and says what it would create', async () => {
    const result = await setupAws(clients, options({ dryRun: true }));

    expect(fake.writes()).toEqual([]);
    expect(fake.operations()).toEqual(['ListTopics', 'GetCallerIdentity', 'GetConfigurationSet']);
    expect(fake.topics).toEqual([]);
    expect(fake.configurationSets.size).toBe(0);
    expect(result.topicArn).toBe(fake.topicArn('mailout-ses-events'));
    expect(result.subscription).toBe('would-create');
    const planned = result.steps.filter((s) => s.kind === 'create');
    expect(planned.map((s) => s.applied)).toEqual([false, false, false, false, false]);
    expect(sqs.requests.map((r) => r.operation)).toEqual(['GetQueueUrl']);
    expect(planned.map((s) => s.message)).toEqual([
      expect.stringMatching(/^would create SNS topic "mailout-ses-events"/),
      'would create SQS dead-letter queue "mailout-ses-events-dlq" (arn:aws:sqs:eu-west-1:123456789012:mailout-ses-events-dlq)',
      expect.stringMatching(new RegExp(`^would subscribe ${ENDPOINT} to the topic \\(https\\)`)),
      'would create SES configuration set "mailout"',
      expect.stringMatching(/^would create event destination "mailout-sns" on "mailout": BOUNCE, COMPLAINT, DELIVERY, REJECT/),
    ]);
  });
});

describe('setup:aws when everything exists', () => {
  test('a second run after the endpoint confirmed makes no create or update call', async () => {
    await setupAws(clients, options());
    fake.confirmAll();
    fake.requests.length = 0;

    const result = await setupAws(clients, options());

    expect(fake.writes()).toEqual([]);
    expect(fake.operations()).toEqual([
      'ListTopics',
      'ListSubscriptionsByTopic',
      'GetSubscriptionAttributes',
      'GetConfigurationSet',
      'GetConfigurationSetEventDestinations',
    ]);
    expect(result.subscription).toBe('confirmed');
    expect(result.steps.filter((s) => s.kind !== 'ok')).toEqual([]);
    expect(fake.subscriptions).toHaveLength(1);
  });

  test('a second run while the subscription is still pending warns instead of subscribing again', async () => {
    await setupAws(clients, options());
    fake.requests.length = 0;

    const result = await setupAws(clients, options());

    expect(fake.writes()).toEqual([]);
    expect(result.subscription).toBe('pending');
    expect(result.steps).toContainEqual(expect.objectContaining({ kind: 'warning', message: expect.stringMatching(/pending confirmation/) }));

    fake.requests.length = 0;
    await setupAws(clients, options({ resendConfirmation: true }));
    expect(fake.writes().map((w) => w.operation)).toEqual(['Subscribe']);
    expect(fake.subscriptions).toHaveLength(1);
  });

  test('turns raw message delivery off and repairs a destination lacking events; --dry-run first changes nothing', async () => {
    const topicArn = fake.addTopic('mailout-ses-events');
    const sub = fake.addSubscription(topicArn, 'https', ENDPOINT, { raw: true });
    fake.addSubscription(topicArn, 'https', 'https://old.example.com/api/ses-events');
    fake.configurationSets.set(
      'mailout',
      new Map([['mailout-sns', { Name: 'mailout-sns', Enabled: false, MatchingEventTypes: ['BOUNCE', 'OPEN'], SnsDestination: { TopicArn: topicArn } }]]),
    );

    const planned = await setupAws(clients, options({ dryRun: true }));
    expect(fake.writes()).toEqual([]);
    expect(sub.attributes.RawMessageDelivery).toBe('true');
    expect(planned.steps.filter((s) => s.kind === 'update').map((s) => s.message)).toEqual([
      `would turn raw message delivery off on ${sub.arn}`,
      `would set DeliveryPolicy on ${sub.arn}`,
      `would set RedrivePolicy on ${sub.arn}`,
      'would update event destination "mailout-sns": add COMPLAINT, DELIVERY, REJECT, SEND; enable it',
    ]);
    expect(planned.steps).toContainEqual(
      expect.objectContaining({ kind: 'warning', message: expect.stringContaining('also delivers to https://old.example.com/api/ses-events') }),
    );

    fake.requests.length = 0;
    await setupAws(clients, options());
    expect(fake.writes().map((w) => w.operation)).toEqual([
      'SetSubscriptionAttributes',
      'SetSubscriptionAttributes',
      'SetSubscriptionAttributes',
      'UpdateConfigurationSetEventDestination',
    ]);
    expect(fake.writes()[0]!.params).toMatchObject({ SubscriptionArn: sub.arn, AttributeName: 'RawMessageDelivery', AttributeValue: 'false' });
    expect(fake.writes().slice(1, 3).map((w) => w.params.AttributeName)).toEqual(['DeliveryPolicy', 'RedrivePolicy']);
    expect(sub.attributes.RedrivePolicy).toBe(JSON.stringify({ deadLetterTargetArn: 'arn:aws:sqs:eu-west-1:123456789012:mailout-ses-events-dlq' }));
    expect(fake.writes()[3]!.path).toBe('/v2/email/configuration-sets/mailout/event-destinations/mailout-sns');
    expect(sub.attributes.RawMessageDelivery).toBe('false');
    expect(fake.configurationSets.get('mailout')!.get('mailout-sns')).toEqual({
      Name: 'mailout-sns',
      Enabled: true,
      // existing types kept, the executor's added
      MatchingEventTypes: ['BOUNCE', 'OPEN', 'COMPLAINT', 'DELIVERY', 'REJECT', 'SEND', 'RENDERING_FAILURE', 'DELIVERY_DELAY'],
      SnsDestination: { TopicArn: topicArn },
    });

    fake.requests.length = 0;
    await setupAws(clients, options());
    expect(fake.writes()).toEqual([]);
  });
});

describe('setup:aws repairs', () => {
  test('points an event destination that sends to another topic at the mailout topic', async () => {
    const topicArn = fake.addTopic('mailout-ses-events');
    const oldTopic = fake.addTopic('old-events');
    fake.addSubscription(topicArn, 'https', ENDPOINT);
    fake.configurationSets.set(
      'mailout',
      new Map([['mailout-sns', { Name: 'mailout-sns', Enabled: true, MatchingEventTypes: ['BOUNCE', 'COMPLAINT', 'DELIVERY', 'REJECT', 'SEND'], SnsDestination: { TopicArn: oldTopic } }]]),
    );

    const result = await setupAws(clients, options());

    // The subscription made before dead-letter queues also gets its delivery policy and queue.
    expect(fake.writes().map((w) => w.operation)).toEqual(['SetSubscriptionAttributes', 'SetSubscriptionAttributes', 'UpdateConfigurationSetEventDestination']);
    expect(result.steps).toContainEqual(
      expect.objectContaining({ kind: 'update', applied: true, message: `updated event destination "mailout-sns": point it at ${topicArn} (now ${oldTopic})` }),
    );
    expect(fake.configurationSets.get('mailout')!.get('mailout-sns')!.SnsDestination).toEqual({ TopicArn: topicArn });
  });
});

describe('setup:aws checks', () => {
  test('refuses a non-https APP_BASE_URL before any call, unless http is allowed', async () => {
    const err = await setupAws(clients, options({ appBaseUrl: 'http://localhost:3000' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('bad_request');
    expect((err as AppError).message).toMatch(/must be https/);
    expect(fake.requests).toEqual([]);

    const result = await setupAws(clients, options({ appBaseUrl: 'http://localhost:3000/', allowHttp: true }));
    expect(result.endpoint).toBe('http://localhost:3000/api/ses-events');
    expect(fake.requests.find((r) => r.operation === 'Subscribe')!.params).toMatchObject({ Protocol: 'http', Endpoint: 'http://localhost:3000/api/ses-events' });
  });

  test('an AWS refusal fails with the operation, the error and a hint', async () => {
    fake.failures.set('CreateTopic', { status: 403, code: 'AuthorizationError', message: 'User is not authorized to perform: SNS:CreateTopic' });
    const err = await setupAws(clients, options()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).message).toMatch(/AWS refused to create the SNS topic "mailout-ses-events": AuthorizationErrorException: User is not authorized/);
    expect((err as AppError).message).toMatch(/Check the AWS credentials/);
    expect((err as AppError).message).not.toContain(credentials.secretAccessKey);
  });
});

describe('the IAM policy', () => {
  test('allows only SendEmail from the sender identity through the configuration set, GetAccount, and the readiness reads', async () => {
    const result = await setupAws(clients, options({ configurationSetName: 'weekly' }));
    expect(result.policy).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'SendMailouts',
          Effect: 'Allow',
          Action: 'ses:SendEmail',
          Resource: [
            'arn:aws:ses:eu-west-1:123456789012:identity/news@example.com',
            'arn:aws:ses:eu-west-1:123456789012:identity/example.com',
            'arn:aws:ses:eu-west-1:123456789012:configuration-set/weekly',
          ],
          Condition: { StringEquals: { 'ses:FromAddress': 'news@example.com' } },
        },
        { Sid: 'PreflightQuota', Effect: 'Allow', Action: 'ses:GetAccount', Resource: '*' },
        {
          Sid: 'ReadinessIdentity',
          Effect: 'Allow',
          Action: 'ses:GetEmailIdentity',
          Resource: ['arn:aws:ses:eu-west-1:123456789012:identity/news@example.com', 'arn:aws:ses:eu-west-1:123456789012:identity/example.com'],
        },
        {
          Sid: 'ReadinessConfigurationSet',
          Effect: 'Allow',
          Action: ['ses:GetConfigurationSet', 'ses:GetConfigurationSetEventDestinations'],
          Resource: 'arn:aws:ses:eu-west-1:123456789012:configuration-set/weekly',
        },
        {
          Sid: 'ReadinessFeedbackSubscription',
          Effect: 'Allow',
          Action: 'sns:ListSubscriptionsByTopic',
          Resource: 'arn:aws:sns:eu-west-1:123456789012:mailout-ses-events',
        },
        {
          Sid: 'ReplayFeedback',
          Effect: 'Allow',
          Action: ['sqs:GetQueueUrl', 'sqs:ReceiveMessage', 'sqs:DeleteMessage'],
          Resource: 'arn:aws:sqs:eu-west-1:123456789012:mailout-ses-events-dlq',
        },
      ],
    });
    const actions = result.policy.Statement.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
    expect(actions.some((a) => a.includes('*'))).toBe(false);
  });

  test('policyOnly reads the account id with one STS call and writes nothing', async () => {
    const policy = await policyOnly(clients, { region: 'eu-west-1', fromEmail: 'news@example.com' });
    expect(fake.operations()).toEqual(['GetCallerIdentity']);
    expect(policy).toEqual(executorPolicy({ region: 'eu-west-1', accountId: '123456789012', configurationSetName: 'mailout', fromEmail: 'news@example.com' }));
  });

  test('uses the partition of the region', () => {
    const policy = executorPolicy({ region: 'cn-north-1', accountId: '123456789012', configurationSetName: 'mailout' });
    expect(policy.Statement[0]!.Resource).toEqual([
      'arn:aws-cn:ses:cn-north-1:123456789012:identity/*',
      'arn:aws-cn:ses:cn-north-1:123456789012:configuration-set/mailout',
    ]);
  });
});
