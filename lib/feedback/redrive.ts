import { DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { log } from '../log';
import { handleSnsRequest, type SnsDeps } from './sns-handler';

/**
 * `npm run feedback:redrive`: replays SNS's dead-letter queue through the same handler as
 * /api/ses-events. SNS moves a notification there once its delivery policy gives up (the
 * endpoint answered 5xx, or could not be reached, for about an hour); the message body is
 * the notification as SNS would have posted it, signature included
 * (https://docs.aws.amazon.com/sns/latest/dg/sns-dead-letter-queues.html).
 *
 * A message is deleted from the queue only once the handler answered 200 (applied, already
 * applied, or kept for review); any other answer leaves it for the next run. Replaying is
 * idempotent: an event is applied once per SNS MessageId, however often it arrives.
 */

export interface RedriveDeps {
  sqs: SQSClient;
  queueUrl: string;
  sns: SnsDeps;
}

export interface RedriveSummary {
  /** Messages read from the queue. */
  received: number;
  /** Applied now (their first arrival). */
  applied: number;
  /** Already applied earlier (SNS delivered them after all), or not events (confirmations): deleted, nothing changed. */
  alreadyApplied: number;
  /** Refused again (the handler's status is not 200): left in the queue. */
  left: number;
}

/** How long a received message stays hidden from another reader while it is replayed. */
const VISIBILITY_SECONDS = 120;

export async function redriveDeadLetters(deps: RedriveDeps): Promise<RedriveSummary> {
  const summary: RedriveSummary = { received: 0, applied: 0, alreadyApplied: 0, left: 0 };
  for (;;) {
    const page = await deps.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: deps.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: VISIBILITY_SECONDS }),
    );
    const messages = page.Messages ?? [];
    // A message left in the queue stays hidden for the visibility timeout: an empty page ends the run.
    if (messages.length === 0) return summary;
    for (const m of messages) {
      summary.received += 1;
      const result = await handleSnsRequest(m.Body ?? '', deps.sns);
      if (result.status !== 200) {
        summary.left += 1;
        log.warn('feedback.redrive_refused', { sqsMessageId: m.MessageId, status: result.status, error: result.body.error });
        continue;
      }
      if (result.body.duplicate === false) summary.applied += 1;
      else summary.alreadyApplied += 1;
      await deps.sqs.send(new DeleteMessageCommand({ QueueUrl: deps.queueUrl, ReceiptHandle: m.ReceiptHandle }));
    }
  }
}
