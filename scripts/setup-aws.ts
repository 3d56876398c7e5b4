/**
 * npm run setup:aws -- [--dry-run] [--policy-only [--account ID]] [--allow-http] [--topic NAME]
 *                      [--configuration-set NAME] [--event-destination NAME] [--resend-confirmation]
 *
 * Creates or checks the SNS topic for SES events, its HTTPS subscription to
 * ${APP_BASE_URL}/api/ses-events, the SES configuration set and its event destination, then
 * prints the environment lines and the least-privilege IAM policy of the executor.
 * `--policy-only` prints just the policy, with no credentials needed: the account id comes from
 * --account, else from AWS (sts:GetCallerIdentity) when credentials are at hand, else it is `*`.
 * Env: AWS_REGION, credentials (default provider chain), APP_BASE_URL, SES_FROM_EMAIL,
 * SES_CONFIGURATION_SET (default "mailout"), SNS_TOPIC_NAME (default "mailout-ses-events");
 * SNS_ENDPOINT / SES_ENDPOINT / STS_ENDPOINT for a local or test endpoint (STS falls back
 * to SNS_ENDPOINT, so a test never reaches the real STS).
 * Exit codes: 0 done, 1 a check or call failed, 2 bad usage.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { SNSClient } from '@aws-sdk/client-sns';
import { SESv2Client } from '@aws-sdk/client-sesv2';
import { SQSClient } from '@aws-sdk/client-sqs';
import { STSClient } from '@aws-sdk/client-sts';
import { checkEmail } from '../lib/email';
import { env } from '../lib/config';
import { isAppError } from '../lib/errors';
import {
  DEFAULT_CONFIGURATION_SET,
  DEFAULT_EVENT_DESTINATION,
  DEFAULT_TOPIC_NAME,
  policyOnly,
  sesEventsEndpoint,
  setupAws,
} from './setup/aws';
import { loadCliEnv } from './lib/env';

const USAGE = `Usage: npm run setup:aws -- [--dry-run] [--policy-only [--account ID]] [--allow-http] [--topic NAME]
         [--configuration-set NAME] [--event-destination NAME] [--resend-confirmation]
Env: AWS_REGION, AWS credentials (default provider chain), APP_BASE_URL, SES_FROM_EMAIL,
     SES_CONFIGURATION_SET (default "${DEFAULT_CONFIGURATION_SET}"), SNS_TOPIC_NAME (default "${DEFAULT_TOPIC_NAME}").`;

function usage(message: string): never {
  process.stderr.write(`${message}\n\n${USAGE}\n`);
  process.exit(2);
}

/** Whether the SDK's default provider chain has anything to find, short of instance metadata. */
function hasAwsCredentials(): boolean {
  if (env('AWS_ACCESS_KEY_ID') || env('AWS_PROFILE') || env('AWS_WEB_IDENTITY_TOKEN_FILE')) return true;
  if (env('AWS_CONTAINER_CREDENTIALS_RELATIVE_URI') || env('AWS_CONTAINER_CREDENTIALS_FULL_URI')) return true;
  const home = os.homedir();
  const files = [env('AWS_SHARED_CREDENTIALS_FILE') ?? path.join(home, '.aws', 'credentials'), env('AWS_CONFIG_FILE') ?? path.join(home, '.aws', 'config')];
  return files.some((f) => fs.existsSync(f));
}

async function main(): Promise<number> {
  loadCliEnv();
  let args;
  try {
    args = parseArgs({
      options: {
        'dry-run': { type: 'boolean', default: false },
        'policy-only': { type: 'boolean', default: false },
        account: { type: 'string' },
        'allow-http': { type: 'boolean', default: false },
        'resend-confirmation': { type: 'boolean', default: false },
        topic: { type: 'string' },
        'configuration-set': { type: 'string' },
        'event-destination': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: false,
    }).values;
  } catch (err) {
    usage((err as Error).message);
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }

  const region = env('AWS_REGION') ?? env('AWS_DEFAULT_REGION');
  if (!region) usage('AWS_REGION is not set (the SES region, e.g. eu-west-1).');
  if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(region)) usage(`AWS_REGION "${region}" is not an AWS region such as eu-west-1.`);
  const fromEmail = env('SES_FROM_EMAIL');
  if (fromEmail && !checkEmail(fromEmail).ok) usage(`SES_FROM_EMAIL "${fromEmail}" is not an email address.`);
  const configurationSetName = args['configuration-set'] ?? env('SES_CONFIGURATION_SET') ?? DEFAULT_CONFIGURATION_SET;
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(configurationSetName)) usage(`Configuration set name "${configurationSetName}" may use letters, digits, _ and - only.`);
  const topicName = args.topic ?? env('SNS_TOPIC_NAME') ?? DEFAULT_TOPIC_NAME;
  if (!/^[A-Za-z0-9_-]{1,256}$/.test(topicName)) usage(`Topic name "${topicName}" may use letters, digits, _ and - only.`);

  const snsEndpoint = env('SNS_ENDPOINT');
  const stsEndpoint = env('STS_ENDPOINT') ?? snsEndpoint;
  const sesEndpoint = env('SES_ENDPOINT');
  const sts = new STSClient({ region, ...(stsEndpoint ? { endpoint: stsEndpoint } : {}) });
  const out = (line = '') => process.stdout.write(`${line}\n`);

  if (args['policy-only']) {
    const accountId = args.account?.trim();
    if (accountId !== undefined && !/^\d{12}$/.test(accountId)) usage(`--account "${accountId}" is not a 12-digit AWS account id.`);
    let account = accountId;
    if (!account && !hasAwsCredentials()) {
      account = '*';
      process.stderr.write('No AWS credentials: the policy names any account (*). Pass --account 123456789012 to name yours.\n');
    }
    const policy = await policyOnly({ sts }, { region, configurationSetName, fromEmail, topicName, ...(account ? { accountId: account } : {}) });
    out(JSON.stringify(policy, null, 2));
    return 0;
  }

  const appBaseUrl = env('APP_BASE_URL');
  if (!appBaseUrl) usage('APP_BASE_URL is not set (the public URL of the deployment, e.g. https://mailout.example.com).');
  try {
    sesEventsEndpoint(appBaseUrl, args['allow-http']);
  } catch (err) {
    usage(isAppError(err) ? err.message : String(err));
  }

  const sns = new SNSClient({ region, ...(snsEndpoint ? { endpoint: snsEndpoint } : {}) });
  const ses = new SESv2Client({ region, ...(sesEndpoint ? { endpoint: sesEndpoint } : {}) });
  const sqsEndpoint = env('SQS_ENDPOINT');
  const sqs = new SQSClient({ region, ...(sqsEndpoint ? { endpoint: sqsEndpoint } : {}) });
  const dryRun = args['dry-run'] === true;
  if (dryRun) out('Dry run: only read calls are made; nothing in AWS is changed.\n');

  const result = await setupAws(
    { sns, ses, sts, sqs },
    {
      region,
      appBaseUrl,
      dryRun,
      allowHttp: args['allow-http'],
      topicName,
      configurationSetName,
      eventDestinationName: args['event-destination'] ?? DEFAULT_EVENT_DESTINATION,
      fromEmail,
      resendConfirmation: args['resend-confirmation'],
    },
  );
  const mark = { ok: '✓', create: '+', update: '~', warning: '!', problem: '✗' } as const;
  for (const step of result.steps) out(`${mark[step.kind]} ${step.message}`);

  out('\nSet these environment variables (.env locally, the Vercel dashboard in production):');
  out(`  SNS_ALLOWED_TOPIC_ARNS=${result.topicArn}`);
  out(`  SES_CONFIGURATION_SET=${result.configurationSetName}`);
  out('\nIAM policy for the executor (least privilege; attach it to the user or role whose keys the deployment uses):');
  out(JSON.stringify(result.policy, null, 2));
  return result.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`setup:aws failed: ${isAppError(err) ? err.message : err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
