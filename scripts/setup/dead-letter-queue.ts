import { SetSubscriptionAttributesCommand, type SNSClient } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, GetQueueUrlCommand, QueueDoesNotExist, SetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { SetupStep } from './types';

/**
 * Feedback that survives an outage of hours: the HTTPS subscription retries for as long as
 * SNS allows, then moves the notification to an SQS dead-letter queue, which
 * `npm run feedback:redrive` replays.
 */

/**
 * The longest HTTPS delivery policy SNS accepts: SNS caps the total retry time of an HTTP/S
 * policy at 3,600 seconds and `numRetries` at 100
 * (https://docs.aws.amazon.com/sns/latest/dg/sns-message-delivery-retries.html). 50 retries,
 * linear from 20 s to 120 s apart, wait 3,500 s in all; the default policy gives up after
 * 3 tries in about a minute.
 */
export const SNS_DELIVERY_POLICY = {
  healthyRetryPolicy: {
    numRetries: 50,
    numNoDelayRetries: 0,
    minDelayTarget: 20,
    maxDelayTarget: 120,
    numMinDelayRetries: 0,
    numMaxDelayRetries: 0,
    backoffFunction: 'linear',
  },
  throttlePolicy: { maxReceivesPerSecond: 10 },
} as const;

/** SQS keeps a message at most 14 days: the time to notice an outage and replay. */
const RETENTION_SECONDS = '1209600';

export function deliveryPolicyJson(): string {
  return JSON.stringify(SNS_DELIVERY_POLICY);
}

export function redrivePolicyJson(queueArn: string): string {
  return JSON.stringify({ deadLetterTargetArn: queueArn });
}

/** Only the topic's subscriptions may put messages in the queue. */
export function queuePolicyJson(queueArn: string, topicArn: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'SnsDeadLetters',
        Effect: 'Allow',
        Principal: { Service: 'sns.amazonaws.com' },
        Action: 'sqs:SendMessage',
        Resource: queueArn,
        Condition: { ArnEquals: { 'aws:SourceArn': topicArn } },
      },
    ],
  });
}

/** The queue, created (or its policy corrected) unless `dryRun`. */
export async function ensureDeadLetterQueue(
  sqs: SQSClient,
  opts: { name: string; queueArn: string; topicArn: string; dryRun: boolean; steps: SetupStep[] },
): Promise<void> {
  const policy = queuePolicyJson(opts.queueArn, opts.topicArn);
  let url: string | undefined;
  try {
    url = (await sqs.send(new GetQueueUrlCommand({ QueueName: opts.name }))).QueueUrl;
  } catch (err) {
    if (!(err instanceof QueueDoesNotExist)) throw err;
  }
  if (!url) {
    if (opts.dryRun) {
      opts.steps.push({ kind: 'create', applied: false, message: `would create SQS dead-letter queue "${opts.name}" (${opts.queueArn})` });
      return;
    }
    await sqs.send(new CreateQueueCommand({ QueueName: opts.name, Attributes: { MessageRetentionPeriod: RETENTION_SECONDS, Policy: policy } }));
    opts.steps.push({ kind: 'create', applied: true, message: `created SQS dead-letter queue ${opts.queueArn} (messages kept 14 days)` });
    return;
  }
  const attrs = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['Policy'] }))).Attributes ?? {};
  if (attrs.Policy === policy) {
    opts.steps.push({ kind: 'ok', applied: false, message: `SQS dead-letter queue ${opts.queueArn} exists and accepts the topic's messages` });
  } else if (opts.dryRun) {
    opts.steps.push({ kind: 'update', applied: false, message: `would let the topic write to the dead-letter queue ${opts.queueArn}` });
  } else {
    await sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { Policy: policy } }));
    opts.steps.push({ kind: 'update', applied: true, message: `let the topic write to the dead-letter queue ${opts.queueArn}` });
  }
}

/** The subscription's attributes a new subscription is created with. */
export function subscriptionAttributes(queueArn: string): Record<string, string> {
  return { DeliveryPolicy: deliveryPolicyJson(), RedrivePolicy: redrivePolicyJson(queueArn) };
}

/** A confirmed subscription gets the delivery policy and the dead-letter queue it lacks. */
export async function ensureSubscriptionPolicies(
  sns: SNSClient,
  opts: { subscriptionArn: string; current: Record<string, string>; queueArn: string; dryRun: boolean; steps: SetupStep[] },
): Promise<void> {
  const { current } = opts;
  const wanted = subscriptionAttributes(opts.queueArn);
  for (const [name, value] of Object.entries(wanted)) {
    if (current[name] === value) continue;
    if (opts.dryRun) {
      opts.steps.push({ kind: 'update', applied: false, message: `would set ${name} on ${opts.subscriptionArn}` });
      continue;
    }
    await sns.send(new SetSubscriptionAttributesCommand({ SubscriptionArn: opts.subscriptionArn, AttributeName: name, AttributeValue: value }));
    opts.steps.push({ kind: 'update', applied: true, message: `set ${name} on ${opts.subscriptionArn}` });
  }
}
