import { loadConfig, type Config } from '../../lib/config';
import { startTxtDnsServer, type TxtDnsServer } from '../../scripts/local/dns-server';
import { readinessClients, type ReadinessClients } from '../../lib/readiness';
import { createSesClient } from '../../lib/ses';
import { FakeAws } from '../setup-tools/fake-aws';

/**
 * A sender ready in every respect, at the HTTP (and UDP) boundary: FakeAws answers SESv2
 * GetAccount / GetEmailIdentity / GetConfigurationSet / GetConfigurationSetEventDestinations
 * and SNS ListSubscriptionsByTopic with their real shapes, and a DNS server holds the DMARC
 * record. A test breaks one thing and sees the check that names it.
 */
export interface ReadySender {
  aws: FakeAws;
  dns: TxtDnsServer;
  /** TXT records by name; absent → NXDOMAIN. */
  txt: Map<string, string[]>;
  topicArn: string;
  env: Record<string, string>;
  config(env?: Record<string, string>): Config;
  clients(config: Config): ReadinessClients;
  close(): Promise<void>;
}

export const APP = 'https://mailout.example.com';

export async function startReadySender(): Promise<ReadySender> {
  const aws = new FakeAws();
  const url = await aws.start();
  const txt = new Map<string, string[]>();
  const dns = await startTxtDnsServer((name) => txt.get(name) ?? null);
  aws.addIdentity('example.com');
  const topicArn = aws.addTopic('mailout-ses-events');
  aws.addSubscription(topicArn, 'https', `${APP}/api/ses-events`);
  aws.configurationSets.set(
    'mailout',
    new Map([['mailout-sns', { Name: 'mailout-sns', Enabled: true, MatchingEventTypes: ['SEND', 'REJECT', 'BOUNCE', 'COMPLAINT', 'DELIVERY'], SnsDestination: { TopicArn: topicArn } }]]),
  );
  txt.set('_dmarc.example.com', ['v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com']);
  const env = {
    EXECUTOR_SHARED_SECRET: 'readiness-test-secret-0123456789',
    APP_BASE_URL: APP,
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'AKIDTEST',
    AWS_SECRET_ACCESS_KEY: 'test-secret-key',
    SES_ENDPOINT: url,
    SNS_ENDPOINT: url,
    DNS_SERVERS: dns.address,
    SES_FROM_EMAIL: 'news@example.com',
    SES_CONFIGURATION_SET: 'mailout',
    SNS_ALLOWED_TOPIC_ARNS: topicArn,
    DATABASE_URL: 'postgres://unused@127.0.0.1:9/unused',
    FOOTER_ADDRESS: 'Example Publishing, 1 Main St',
  };
  return {
    aws,
    dns,
    txt,
    topicArn,
    env,
    config: (extra = {}) => loadConfig({ ...env, ...extra }),
    clients: (config) => readinessClients(config, createSesClient(config)),
    close: async () => {
      await aws.stop();
      await dns.close();
    },
  };
}
