import type { SESv2Client } from '@aws-sdk/client-sesv2';
import { SNSClient } from '@aws-sdk/client-sns';
import type { Client } from '@notionhq/client';
import type { Config } from '../config';
import type { Db } from '../db';
import { listMigrations } from '../db/migrate';
import { ERROR_PROPERTIES, MAILOUT_PROPERTIES } from '../notion/schema';
import { checkAccount } from './account';
import { errorText, warn, type Check } from './check';
import { checkConfigurationSet } from './configuration-set';
import { checkDmarc, createTxtResolver, type TxtResolver } from './dmarc';
import { checkDkim, checkIdentityVerified, checkMailFrom, domainOf, readSenderIdentity } from './identity';
import { checkNotionDatabase } from './notion';
import { checkFooterAddress, checkMigrations, checkResumeSafetyNet } from './settings';
import { checkFeedbackSubscription } from './sns';
import { readinessFacts, type ReadinessFacts } from './store';

/**
 * Sender readiness: whether mailbox providers will trust this sender and whether its
 * feedback comes back. `senderChecks` guard every live send (lib/send/start.ts);
 * `doctorChecks` (`npm run doctor`) add Notion, the safety net and the migrations.
 */


export interface ReadinessClients {
  ses: SESv2Client;
  sns: SNSClient;
  dns: TxtResolver;
}

/** The SNS client and DNS resolver of the checks, from the configuration (SES is the sender's own client). */
export function readinessClients(config: Config, ses: SESv2Client): ReadinessClients {
  const region = config.snsAllowedTopicArns[0]?.split(':')[3] ?? config.aws.region;
  const sns = new SNSClient({
    region,
    maxAttempts: 2,
    ...(config.aws.snsEndpoint ? { endpoint: config.aws.snsEndpoint } : {}),
    ...(config.aws.credentials ? { credentials: config.aws.credentials } : {}),
  });
  return { ses, sns, dns: createTxtResolver(config.dnsServers) };
}

/** What guards a live send: the account, the sender's identity, DKIM, MAIL FROM, DMARC, feedback (the footer has its own refusal). */
export async function senderChecks(config: Config, clients: ReadinessClients, recipients: number): Promise<Check[]> {
  const from = config.ses.fromEmail;
  const [account, sender, dmarc] = await Promise.all([
    checkAccount(clients.ses, recipients),
    readSenderIdentity(clients.ses, from),
    checkDmarc(clients.dns, domainOf(from), recipients),
  ]);
  const { topicArns, ...set } = await checkConfigurationSet(clients.ses, {
    configured: config.ses.configurationSet,
    identityDefault: sender.identity?.ConfigurationSetName,
    allowedTopicArns: config.snsAllowedTopicArns,
  });
  const sns = await checkFeedbackSubscription(clients.sns, topicArns, `${config.appBaseUrl}/api/ses-events`);
  return [account, checkIdentityVerified(sender, from), checkDkim(sender, from), checkMailFrom(sender), dmarc, set, sns];
}

/** Every check `npm run doctor` prints, in order. */
export async function doctorChecks(config: Config, clients: ReadinessClients & { db: Db; notion: Client | null }): Promise<Check[]> {
  let facts: ReadinessFacts | null = null;
  let factsError: string | undefined;
  try {
    facts = await readinessFacts(clients.db);
  } catch (err) {
    factsError = errorText(err);
  }
  const sender = await senderChecks(config, clients, facts?.activeSubscribers ?? 0);
  return [
    ...sender,
    checkFooterAddress(config),
    ...(await notionChecks(config, clients.notion)),
    checkResumeSafetyNet(config, facts),
    checkMigrations(facts, factsError, listMigrations().map((m) => m.version)),
  ];
}

async function notionChecks(config: Config, notion: Client | null): Promise<Check[]> {
  if (!notion) {
    return [warn('Notion', 'NOTION_TOKEN is not set: only Markdown mailouts can be sent (npm run send -- FILE.md)', 'Set NOTION_TOKEN (notion.so/profile/integrations → your integration → Internal Integration Secret).')];
  }
  return [
    await checkNotionDatabase(notion, { title: 'Mailouts', envVar: 'NOTION_MAILOUTS_DATABASE_ID', id: config.notion.mailoutsDatabaseId, required: MAILOUT_PROPERTIES }),
    await checkNotionDatabase(notion, { title: 'Errors', envVar: 'NOTION_ERRORS_DATABASE_ID', id: config.notion.errorsDatabaseId, required: ERROR_PROPERTIES }),
  ];
}
