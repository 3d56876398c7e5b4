/**
 * `npm run feedback:redrive -- [--queue NAME|URL]`: replays the SNS dead-letter queue (the
 * SES feedback SNS could not deliver during an outage) through the /api/ses-events handler,
 * each event applied once, and prints the counts. The queue defaults to the one
 * `npm run setup:aws` creates. Exit 0 when the queue is empty, 1 when messages were left.
 */
import { GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { createApp } from '../lib/app';
import { loadConfig } from '../lib/config';
import { redriveDeadLetters } from '../lib/feedback/redrive';
import { DEFAULT_DEAD_LETTER_QUEUE } from './setup/aws';
import { loadCliEnv } from './lib/env';

async function main(): Promise<void> {
  loadCliEnv({ database: true });
  const args = process.argv.slice(2);
  const at = args.indexOf('--queue');
  const queue = at >= 0 ? args[at + 1] : DEFAULT_DEAD_LETTER_QUEUE;
  if (!queue || args.some((a, i) => a.startsWith('-') && a !== '--queue' && i !== at + 1)) {
    console.error('usage: npm run feedback:redrive -- [--queue NAME|URL]');
    process.exit(2);
  }
  const config = loadConfig();
  const app = createApp(config);
  const sqs = new SQSClient({ region: config.aws.region, ...(config.aws.credentials ? { credentials: config.aws.credentials } : {}) });
  const queueUrl = /^https?:\/\//.test(queue) ? queue : (await sqs.send(new GetQueueUrlCommand({ QueueName: queue }))).QueueUrl!;
  const summary = await redriveDeadLetters({
    sqs,
    queueUrl,
    sns: { db: app.db, config, ...(app.countsRefresher() ? { refreshNotionCounts: app.countsRefresher()! } : {}) },
  });
  console.log(
    `${summary.applied} events applied, ${summary.alreadyApplied} already applied, ${summary.left} left in the queue (of ${summary.received} read from ${queueUrl}).`,
  );
  sqs.destroy();
  await app.db.close();
  process.exit(summary.left > 0 ? 1 : 0);
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
