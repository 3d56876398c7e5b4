import {
  CreateTopicCommand,
  GetSubscriptionAttributesCommand,
  ListSubscriptionsByTopicCommand,
  ListTopicsCommand,
  SetSubscriptionAttributesCommand,
  SubscribeCommand,
  type SNSClient,
  type Subscription,
} from '@aws-sdk/client-sns';
import {
  CreateConfigurationSetCommand,
  CreateConfigurationSetEventDestinationCommand,
  GetConfigurationSetCommand,
  GetConfigurationSetEventDestinationsCommand,
  NotFoundException,
  UpdateConfigurationSetEventDestinationCommand,
  type EventDestination,
  type EventType,
  type SESv2Client,
} from '@aws-sdk/client-sesv2';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { GetCallerIdentityCommand, type STSClient } from '@aws-sdk/client-sts';
import { AppError } from '../../lib/errors';
import { ensureDeadLetterQueue, ensureSubscriptionPolicies, subscriptionAttributes } from './dead-letter-queue';
import type { SetupStep } from './types';

/**
 * `npm run setup:aws`: the SNS topic SES publishes events to, its HTTPS subscription to
 * `/api/ses-events`, the SES configuration set and its event destination, and the IAM policy
 * the executor needs. Every resource is looked up before it is created, so a second run makes
 * only read calls; `dryRun` makes only read calls.
 */

export type { SetupStep };

export const DEFAULT_TOPIC_NAME = 'mailout-ses-events';
export const DEFAULT_CONFIGURATION_SET = 'mailout';
export const DEFAULT_EVENT_DESTINATION = 'mailout-sns';
/** The SQS queue SNS moves an undeliverable notification to (`npm run feedback:redrive` replays it). */
export const DEFAULT_DEAD_LETTER_QUEUE = 'mailout-ses-events-dlq';
/** The events the executor acts on (SEND settles a row whose SendEmail answer was lost); a destination lacking one is updated. */
export const REQUIRED_EVENT_TYPES: EventType[] = ['BOUNCE', 'COMPLAINT', 'DELIVERY', 'REJECT', 'SEND'];
/** Also sent to a new destination: stored for the report, never answered with an error. */
export const OPTIONAL_EVENT_TYPES: EventType[] = ['RENDERING_FAILURE', 'DELIVERY_DELAY'];

export interface AwsClients {
  sns: SNSClient;
  ses: SESv2Client;
  sts: STSClient;
  /** The dead-letter queue of the subscription (scripts/setup/dead-letter-queue). */
  sqs: SQSClient;
}

export interface AwsSetupOptions {
  region: string;
  appBaseUrl: string;
  dryRun: boolean;
  allowHttp?: boolean;
  topicName?: string;
  configurationSetName?: string;
  eventDestinationName?: string;
  /** The sender address: the policy's identity resources and ses:FromAddress condition. */
  fromEmail?: string;
  /** Subscribe again when the subscription is still pending (SNS resends the confirmation). */
  resendConfirmation?: boolean;
  deadLetterQueueName?: string;
}

export interface AwsSetupResult {
  dryRun: boolean;
  steps: SetupStep[];
  endpoint: string;
  /** In a dry run that would create the topic: the ARN it would get. */
  topicArn: string;
  configurationSetName: string;
  /** The SQS queue SNS moves undeliverable feedback to. */
  deadLetterQueueArn: string;
  subscription: 'confirmed' | 'pending' | 'created' | 'would-create';
  policy: IamPolicy;
  ok: boolean;
}

export interface IamPolicy {
  Version: '2012-10-17';
  Statement: Array<{
    Sid: string;
    Effect: 'Allow';
    Action: string | string[];
    Resource: string | string[];
    Condition?: Record<string, Record<string, string>>;
  }>;
}

/** The HTTPS endpoint SNS posts SES events to. */
export function sesEventsEndpoint(appBaseUrl: string, allowHttp = false): string {
  let url: URL;
  try {
    url = new URL(appBaseUrl);
  } catch {
    throw new AppError('bad_request', `APP_BASE_URL "${appBaseUrl}" is not a URL (e.g. https://mailout.example.com).`);
  }
  if (url.protocol !== 'https:' && !(allowHttp && url.protocol === 'http:')) {
    throw new AppError(
      'bad_request',
      `APP_BASE_URL must be https:// (SNS delivers to ${url.protocol.replace(':', '')} only for testing; pass --allow-http to accept it).`,
    );
  }
  return `${appBaseUrl.replace(/\/+$/, '')}/api/ses-events`;
}

export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

/**
 * Least privilege for the executor: SESv2 SendEmail from the sender identity (address and
 * its domain, whichever is verified) through the configuration set, and GetAccount for the
 * pre-flight quota check; the sender readiness checks' reads (lib/readiness: the identity, the
 * configuration set and its event destinations, the topic's subscriptions). The endpoint
 * confirms its subscription by fetching the SubscribeURL, which is unauthenticated.
 */
export function executorPolicy(input: {
  region: string;
  accountId: string;
  configurationSetName: string;
  fromEmail?: string;
  deadLetterQueueName?: string;
  /** The SES events topic; default: DEFAULT_TOPIC_NAME in this account and region. */
  topicArn?: string;
}): IamPolicy {
  const arn = (resource: string) => `arn:${partitionOf(input.region)}:ses:${input.region}:${input.accountId}:${resource}`;
  const identities: string[] = [];
  if (input.fromEmail) {
    const email = input.fromEmail.trim();
    const domain = email.split('@')[1];
    identities.push(arn(`identity/${email}`));
    if (domain) identities.push(arn(`identity/${domain}`));
  } else {
    identities.push(arn('identity/*'));
  }
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'SendMailouts',
        Effect: 'Allow',
        Action: 'ses:SendEmail',
        Resource: [...identities, arn(`configuration-set/${input.configurationSetName}`)],
        ...(input.fromEmail ? { Condition: { StringEquals: { 'ses:FromAddress': input.fromEmail.trim() } } } : {}),
      },
      { Sid: 'PreflightQuota', Effect: 'Allow', Action: 'ses:GetAccount', Resource: '*' },
      { Sid: 'ReadinessIdentity', Effect: 'Allow', Action: 'ses:GetEmailIdentity', Resource: identities },
      {
        Sid: 'ReadinessConfigurationSet',
        Effect: 'Allow',
        Action: ['ses:GetConfigurationSet', 'ses:GetConfigurationSetEventDestinations'],
        Resource: arn(`configuration-set/${input.configurationSetName}`),
      },
      {
        Sid: 'ReadinessFeedbackSubscription',
        Effect: 'Allow',
        Action: 'sns:ListSubscriptionsByTopic',
        Resource: input.topicArn ?? `arn:${partitionOf(input.region)}:sns:${input.region}:${input.accountId}:${DEFAULT_TOPIC_NAME}`,
      },
      {
        // npm run feedback:redrive: find the dead-letter queue, read its messages, delete each once applied.
        Sid: 'ReplayFeedback',
        Effect: 'Allow',
        Action: ['sqs:GetQueueUrl', 'sqs:ReceiveMessage', 'sqs:DeleteMessage'],
        Resource: deadLetterQueueArn(input.region, input.accountId, input.deadLetterQueueName ?? DEFAULT_DEAD_LETTER_QUEUE),
      },
    ],
  };
}

export function deadLetterQueueArn(region: string, accountId: string, name: string): string {
  return `arn:${partitionOf(region)}:sqs:${region}:${accountId}:${name}`;
}

function awsFailure(action: string, err: unknown): AppError {
  if (err instanceof AppError) return err;
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const name = e?.name ?? 'Error';
  let hint = '';
  if (/AccessDenied|AuthorizationError|UnrecognizedClient|InvalidClientTokenId|SignatureDoesNotMatch|ExpiredToken/i.test(name)) {
    hint = ' Check the AWS credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE) and that they may do this.';
  } else if (/CredentialsProviderError/i.test(name)) {
    hint = ' No AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE.';
  }
  return new AppError('upstream', `AWS refused to ${action}: ${name}: ${e?.message ?? String(err)}.${hint}`, { cause: err });
}

async function call<T>(action: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw awsFailure(action, err);
  }
}

async function findTopic(sns: SNSClient, name: string): Promise<string | undefined> {
  let token: string | undefined;
  do {
    const page = await call('list SNS topics', () => sns.send(new ListTopicsCommand(token ? { NextToken: token } : {})));
    const hit = (page.Topics ?? []).find((t) => t.TopicArn?.split(':').pop() === name);
    if (hit?.TopicArn) return hit.TopicArn;
    token = page.NextToken;
  } while (token);
  return undefined;
}

async function listSubscriptions(sns: SNSClient, topicArn: string): Promise<Subscription[]> {
  const all: Subscription[] = [];
  let token: string | undefined;
  do {
    const page = await call('list the topic subscriptions', () =>
      sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn, ...(token ? { NextToken: token } : {}) })),
    );
    all.push(...(page.Subscriptions ?? []));
    token = page.NextToken;
  } while (token);
  return all;
}

function isPending(arn: string | undefined): boolean {
  return !arn || /^pending ?confirmation$/i.test(arn);
}

async function accountIdOf(sts: STSClient): Promise<string> {
  const id = await call('read the caller identity (sts:GetCallerIdentity)', () => sts.send(new GetCallerIdentityCommand({})));
  if (!id.Account) throw new AppError('upstream', 'sts:GetCallerIdentity returned no account id.');
  return id.Account;
}

/**
 * Only the policy (for `--policy-only`): with `accountId` given, no call at all; else one
 * read call for the account id.
 */
export async function policyOnly(
  clients: Pick<AwsClients, 'sts'>,
  options: { region: string; configurationSetName?: string; fromEmail?: string; accountId?: string; topicName?: string },
): Promise<IamPolicy> {
  const accountId = options.accountId ?? (await accountIdOf(clients.sts));
  return executorPolicy({
    region: options.region,
    accountId,
    configurationSetName: options.configurationSetName ?? DEFAULT_CONFIGURATION_SET,
    fromEmail: options.fromEmail,
    topicArn: `arn:${partitionOf(options.region)}:sns:${options.region}:${accountId}:${options.topicName ?? DEFAULT_TOPIC_NAME}`,
  });
}

export async function setupAws(clients: AwsClients, options: AwsSetupOptions): Promise<AwsSetupResult> {
  const { sns, ses, sts } = clients;
  const dryRun = options.dryRun;
  const steps: SetupStep[] = [];
  const topicName = options.topicName ?? DEFAULT_TOPIC_NAME;
  const configurationSetName = options.configurationSetName ?? DEFAULT_CONFIGURATION_SET;
  const destinationName = options.eventDestinationName ?? DEFAULT_EVENT_DESTINATION;
  const endpoint = sesEventsEndpoint(options.appBaseUrl, options.allowHttp);

  // 1. The topic.
  let topicArn = await findTopic(sns, topicName);
  let topicExists = Boolean(topicArn);
  if (topicArn) {
    steps.push({ kind: 'ok', applied: false, message: `SNS topic ${topicArn} exists` });
  } else if (dryRun) {
    const accountId = await accountIdOf(sts);
    topicArn = `arn:${partitionOf(options.region)}:sns:${options.region}:${accountId}:${topicName}`;
    steps.push({ kind: 'create', applied: false, message: `would create SNS topic "${topicName}" (${topicArn})` });
  } else {
    const created = await call(`create the SNS topic "${topicName}"`, () => sns.send(new CreateTopicCommand({ Name: topicName })));
    if (!created.TopicArn) throw new AppError('upstream', 'SNS CreateTopic returned no TopicArn.');
    topicArn = created.TopicArn;
    topicExists = true;
    steps.push({ kind: 'create', applied: true, message: `created SNS topic ${topicArn}` });
  }
  const accountId = topicArn.split(':')[4] ?? '';

  // 1b. The dead-letter queue the subscription's undeliverable notifications go to.
  const queueName = options.deadLetterQueueName ?? DEFAULT_DEAD_LETTER_QUEUE;
  const queueArn = deadLetterQueueArn(options.region, accountId, queueName);
  await call(`set up the SQS dead-letter queue "${queueName}"`, () => ensureDeadLetterQueue(clients.sqs, { name: queueName, queueArn, topicArn: topicArn!, dryRun, steps }));

  // 2. The HTTPS subscription, raw message delivery off (the endpoint parses the SNS envelope).
  let subscription: AwsSetupResult['subscription'];
  const subs = topicExists ? await listSubscriptions(sns, topicArn) : [];
  const mine = subs.find((s) => s.Protocol === 'https' && s.Endpoint === endpoint) ?? subs.find((s) => s.Protocol === 'http' && s.Endpoint === endpoint);
  for (const other of subs.filter((s) => (s.Protocol === 'https' || s.Protocol === 'http') && s.Endpoint !== endpoint)) {
    steps.push({
      kind: 'warning',
      applied: false,
      message: `the topic also delivers to ${other.Endpoint} (${other.SubscriptionArn}); unsubscribe it if it is an old deployment`,
    });
  }
  const protocol = endpoint.startsWith('https:') ? 'https' : 'http';
  const subscribe = async (reason: string) => {
    if (dryRun) {
      steps.push({ kind: 'create', applied: false, message: `would subscribe ${endpoint} to the topic (${protocol}${reason})` });
      return;
    }
    await call(`subscribe ${endpoint} to the topic`, () =>
      sns.send(
        new SubscribeCommand({
          TopicArn: topicArn,
          Protocol: protocol,
          Endpoint: endpoint,
          ReturnSubscriptionArn: true,
          // Retry for the longest SNS allows, then keep the notification in the dead-letter queue.
          Attributes: subscriptionAttributes(queueArn),
        }),
      ),
    );
    steps.push({
      kind: 'create',
      applied: true,
      message: `subscribed ${endpoint} (${protocol}${reason}): pending confirmation; the endpoint confirms itself when the deployment receives SNS's SubscriptionConfirmation`,
    });
  };
  if (!mine) {
    await subscribe('');
    subscription = dryRun ? 'would-create' : 'created';
  } else if (isPending(mine.SubscriptionArn)) {
    subscription = 'pending';
    if (options.resendConfirmation) {
      await subscribe(', again: SNS resends the confirmation');
    } else {
      steps.push({
        kind: 'warning',
        applied: false,
        message: `the subscription of ${endpoint} is pending confirmation: deploy the app (it confirms itself), then run again with --resend-confirmation if it stays pending`,
      });
    }
  } else {
    subscription = 'confirmed';
    const attrs = await call('read the subscription attributes', () =>
      sns.send(new GetSubscriptionAttributesCommand({ SubscriptionArn: mine.SubscriptionArn })),
    );
    if (attrs.Attributes?.RawMessageDelivery === 'true') {
      if (dryRun) {
        steps.push({ kind: 'update', applied: false, message: `would turn raw message delivery off on ${mine.SubscriptionArn}` });
      } else {
        await call('turn raw message delivery off', () =>
          sns.send(
            new SetSubscriptionAttributesCommand({
              SubscriptionArn: mine.SubscriptionArn,
              AttributeName: 'RawMessageDelivery',
              AttributeValue: 'false',
            }),
          ),
        );
        steps.push({ kind: 'update', applied: true, message: `turned raw message delivery off on ${mine.SubscriptionArn}` });
      }
    } else {
      steps.push({ kind: 'ok', applied: false, message: `${endpoint} is subscribed and confirmed (${mine.SubscriptionArn}), raw message delivery off` });
    }
    await call('set the delivery policy and the dead-letter queue', () =>
      ensureSubscriptionPolicies(sns, { subscriptionArn: mine.SubscriptionArn!, current: attrs.Attributes ?? {}, queueArn, dryRun, steps }),
    );
  }

  // 3. The configuration set.
  let setExists = true;
  try {
    await ses.send(new GetConfigurationSetCommand({ ConfigurationSetName: configurationSetName }));
  } catch (err) {
    if (!(err instanceof NotFoundException)) throw awsFailure(`read the SES configuration set "${configurationSetName}"`, err);
    setExists = false;
  }
  if (setExists) {
    steps.push({ kind: 'ok', applied: false, message: `SES configuration set "${configurationSetName}" exists` });
  } else if (dryRun) {
    steps.push({ kind: 'create', applied: false, message: `would create SES configuration set "${configurationSetName}"` });
  } else {
    await call(`create the SES configuration set "${configurationSetName}"`, () =>
      ses.send(new CreateConfigurationSetCommand({ ConfigurationSetName: configurationSetName })),
    );
    steps.push({ kind: 'create', applied: true, message: `created SES configuration set "${configurationSetName}"` });
  }

  // 4. Its event destination: the topic, with every event type the executor acts on.
  const destinations: EventDestination[] = setExists
    ? ((
        await call('read the configuration set event destinations', () =>
          ses.send(new GetConfigurationSetEventDestinationsCommand({ ConfigurationSetName: configurationSetName })),
        )
      ).EventDestinations ?? [])
    : [];
  const current =
    destinations.find((d) => d.Name === destinationName) ?? destinations.find((d) => d.SnsDestination?.TopicArn === topicArn);
  const wanted = [...REQUIRED_EVENT_TYPES, ...OPTIONAL_EVENT_TYPES];
  if (!current) {
    const body = { Enabled: true, MatchingEventTypes: wanted, SnsDestination: { TopicArn: topicArn } };
    if (dryRun) {
      steps.push({
        kind: 'create',
        applied: false,
        message: `would create event destination "${destinationName}" on "${configurationSetName}": ${wanted.join(', ')} → ${topicArn}`,
      });
    } else {
      await call(`create the event destination "${destinationName}"`, () =>
        ses.send(
          new CreateConfigurationSetEventDestinationCommand({
            ConfigurationSetName: configurationSetName,
            EventDestinationName: destinationName,
            EventDestination: body,
          }),
        ),
      );
      steps.push({
        kind: 'create',
        applied: true,
        message: `created event destination "${destinationName}" on "${configurationSetName}": ${wanted.join(', ')} → ${topicArn}`,
      });
    }
  } else {
    const types = current.MatchingEventTypes ?? [];
    const lacking = REQUIRED_EVENT_TYPES.filter((t) => !types.includes(t));
    const wrongTopic = current.SnsDestination?.TopicArn !== topicArn;
    const disabled = current.Enabled !== true;
    if (!lacking.length && !wrongTopic && !disabled) {
      steps.push({
        kind: 'ok',
        applied: false,
        message: `event destination "${current.Name}" sends ${types.join(', ')} to the topic`,
      });
    } else {
      const reasons = [
        ...(lacking.length ? [`add ${lacking.join(', ')}`] : []),
        ...(wrongTopic ? [`point it at ${topicArn} (now ${current.SnsDestination?.TopicArn ?? 'not SNS'})`] : []),
        ...(disabled ? ['enable it'] : []),
      ].join('; ');
      const merged = [...types, ...wanted.filter((t) => !types.includes(t))];
      if (dryRun) {
        steps.push({ kind: 'update', applied: false, message: `would update event destination "${current.Name}": ${reasons}` });
      } else {
        await call(`update the event destination "${current.Name}"`, () =>
          ses.send(
            new UpdateConfigurationSetEventDestinationCommand({
              ConfigurationSetName: configurationSetName,
              EventDestinationName: current.Name,
              EventDestination: { Enabled: true, MatchingEventTypes: merged, SnsDestination: { TopicArn: topicArn } },
            }),
          ),
        );
        steps.push({ kind: 'update', applied: true, message: `updated event destination "${current.Name}": ${reasons}` });
      }
    }
  }

  const policy = executorPolicy({ region: options.region, accountId, configurationSetName, fromEmail: options.fromEmail, deadLetterQueueName: queueName, topicArn });
  if (!options.fromEmail) {
    steps.push({
      kind: 'warning',
      applied: false,
      message: 'SES_FROM_EMAIL is not set: the policy allows sending from any identity of the account; set it to narrow the policy',
    });
  }
  return {
    dryRun,
    steps,
    endpoint,
    topicArn,
    configurationSetName,
    deadLetterQueueArn: queueArn,
    subscription,
    policy,
    ok: !steps.some((s) => s.kind === 'problem'),
  };
}
