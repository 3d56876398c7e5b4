import type { SESv2Client } from '@aws-sdk/client-sesv2';
import { SNSClient } from '@aws-sdk/client-sns';
import type { Config } from '../config';
import { checkAccount } from './account';
import type { Check } from './check';
import { checkConfigurationSet } from './configuration-set';
import { checkDmarc, createTxtResolver, type TxtResolver } from './dmarc';
import { checkDkim, checkIdentityVerified, checkMailFrom, domainOf, readSenderIdentity } from './identity';
import { checkFeedbackSubscription } from './sns';

/**
 * Sender readiness: whether mailbox providers will trust this sender and whether its
 * feedback comes back. `senderChecks` guard every live send (lib/send/start.ts);
 * `npm run doctor` (./doctor.ts) adds Notion, the safety net and the migrations.
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
