import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { env } from '../../lib/config';
import { startTxtDnsServer } from './dns-server';

/**
 * What the local stack answers to the sender readiness checks (lib/readiness), so that
 * `npm run doctor` and a live send see the emulator for what it is: a sender that sends as
 * any address, with no sandbox, whose feedback goes to the local stack's own topic.
 *
 * - On the emulator's port, before the emulator (which has none of them): SESv2 GetAccount
 *   (production access), GetEmailIdentity (any identity: a verified domain with Easy DKIM and a
 *   custom MAIL FROM, both SUCCESS), GetConfigurationSet and its event destinations (any name:
 *   SEND, DELIVERY, BOUNCE, COMPLAINT, REJECT to the first topic of SNS_ALLOWED_TOPIC_ARNS).
 * - An SNS endpoint (query protocol) whose ListSubscriptionsByTopic lists a confirmed
 *   subscription of APP_BASE_URL/api/ses-events (this process's), and of each base URL
 *   `subscribe`d (a sender in another process, with its own APP_BASE_URL).
 * - A DNS server answering `_dmarc.<any domain>` with "v=DMARC1; p=none".
 * The shapes are SES's and SNS's own (see tests/setup-tools/fake-aws.ts for their sources).
 */

export interface LocalSenderEnv {
  SNS_ENDPOINT: string;
  DNS_SERVERS: string;
  /** The local feedback topic, unless SNS_ALLOWED_TOPIC_ARNS names one already. */
  SNS_ALLOWED_TOPIC_ARNS: string;
}

export interface LocalSender {
  env: LocalSenderEnv;
  /** List a confirmed subscription of `appBaseUrl`/api/ses-events too, on `topicArn` as well when given. */
  subscribe(appBaseUrl: string, topicArn?: string): void;
  close(): Promise<void>;
}

const LOCAL_ACCOUNT = '000000000000';
const topicArn = () => env('SNS_ALLOWED_TOPIC_ARNS')?.split(/[,\s]+/)[0] ?? `arn:aws:sns:${env('AWS_REGION') ?? 'us-east-1'}:${LOCAL_ACCOUNT}:mailout-local-feedback`;
/** The topics the local event destinations publish to: this process's, and each one `subscribe`d. */
const topicsOf = (extra: Set<string>) => [...new Set([topicArn(), ...extra])];

function account(): unknown {
  return {
    DedicatedIpAutoWarmupEnabled: false,
    EnforcementStatus: 'HEALTHY',
    ProductionAccessEnabled: true,
    SendingEnabled: true,
    SendQuota: { Max24HourSend: -1, MaxSendRate: 1000, SentLast24Hours: 0 },
    SuppressionAttributes: { SuppressedReasons: ['BOUNCE', 'COMPLAINT'] },
  };
}

function identity(name: string): unknown {
  const domain = name.slice(name.lastIndexOf('@') + 1);
  return {
    IdentityType: name.includes('@') ? 'EMAIL_ADDRESS' : 'DOMAIN',
    FeedbackForwardingStatus: false,
    VerifiedForSendingStatus: true,
    VerificationStatus: 'SUCCESS',
    DkimAttributes: { SigningEnabled: true, Status: 'SUCCESS', SigningAttributesOrigin: 'AWS_SES', Tokens: ['local1', 'local2', 'local3'] },
    MailFromAttributes: { MailFromDomain: `bounce.${domain}`, MailFromDomainStatus: 'SUCCESS', BehaviorOnMxFailure: 'USE_DEFAULT_VALUE' },
    Policies: {},
    Tags: [],
  };
}

/** The SESv2 answer for a readiness GET, or undefined for the emulator to handle. */
function sesAnswer(method: string, path: string, topics: string[]): unknown {
  if (method !== 'GET') return undefined;
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent); // v2 email …
  if (parts[0] !== 'v2' || parts[1] !== 'email') return undefined;
  if (parts[2] === 'account' && parts.length === 3) return account();
  if (parts[2] === 'identities' && parts.length === 4) return identity(parts[3]!);
  if (parts[2] === 'configuration-sets' && parts.length === 4) {
    return { ConfigurationSetName: parts[3], SendingOptions: { SendingEnabled: true }, Tags: [] };
  }
  if (parts[2] === 'configuration-sets' && parts[4] === 'event-destinations' && parts.length === 5) {
    return {
      EventDestinations: topics.map((TopicArn, i) => ({
        Name: `mailout-local-${i + 1}`,
        Enabled: true,
        MatchingEventTypes: ['SEND', 'DELIVERY', 'BOUNCE', 'COMPLAINT', 'REJECT'],
        SnsDestination: { TopicArn },
      })),
    };
  }
  return undefined;
}

/** Puts the readiness answers in front of the emulator's own request handler on its server. */
function answerBeforeEmulator(server: http.Server, topics: Set<string>): void {
  const emulator = server.listeners('request') as http.RequestListener[];
  server.removeAllListeners('request');
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const body = sesAnswer(req.method ?? 'GET', (req.url ?? '/').split('?')[0]!, topicsOf(topics));
    if (body === undefined || !String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256')) {
      for (const handler of emulator) handler.call(server, req, res);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'x-amzn-requestid': 'local-ready-sender' });
    res.end(JSON.stringify(body));
  });
}

function snsAnswer(raw: string, subscribed: Set<string>, topics: Set<string>): { status: number; xml: string } {
  const p = Object.fromEntries(new URLSearchParams(raw));
  const ns = 'http://sns.amazonaws.com/doc/2010-03-31/';
  if (p.Action !== 'ListSubscriptionsByTopic' || !topicsOf(topics).includes(p.TopicArn ?? '')) {
    return { status: 404, xml: `<ErrorResponse xmlns="${ns}"><Error><Type>Sender</Type><Code>NotFound</Code><Message>Topic does not exist</Message></Error><RequestId>local</RequestId></ErrorResponse>` };
  }
  const bases = new Set([...(env('APP_BASE_URL') ? [env('APP_BASE_URL')!] : []), ...subscribed]);
  const members = [...bases].map((base, i) => {
    const endpoint = `${base.replace(/\/+$/, '')}/api/ses-events`;
    return (
      `<member><TopicArn>${p.TopicArn}</TopicArn><Protocol>${endpoint.startsWith('https:') ? 'https' : 'http'}</Protocol>` +
      `<SubscriptionArn>${p.TopicArn}:00000000-0000-0000-0000-${String(i + 1).padStart(12, '0')}</SubscriptionArn><Owner>${LOCAL_ACCOUNT}</Owner>` +
      `<Endpoint>${endpoint.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</Endpoint></member>`
    );
  });
  const member = members.join('');
  return {
    status: 200,
    xml: `<ListSubscriptionsByTopicResponse xmlns="${ns}"><ListSubscriptionsByTopicResult><Subscriptions>${member}</Subscriptions></ListSubscriptionsByTopicResult><ResponseMetadata><RequestId>local</RequestId></ResponseMetadata></ListSubscriptionsByTopicResponse>`,
  };
}

export async function startLocalSender(emulator: http.Server): Promise<LocalSender> {
  const subscribed = new Set<string>();
  const topics = new Set<string>();
  answerBeforeEmulator(emulator, topics);
  const sns = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const { status, xml } = snsAnswer(Buffer.concat(chunks).toString('utf8'), subscribed, topics);
      res.writeHead(status, { 'content-type': 'text/xml' });
      res.end(xml);
    });
  });
  await new Promise<void>((resolve) => sns.listen(0, '127.0.0.1', resolve));
  const dns = await startTxtDnsServer((name) => (name.startsWith('_dmarc.') ? ['v=DMARC1; p=none'] : null));
  return {
    subscribe: (appBaseUrl, topicArn) => {
      subscribed.add(appBaseUrl);
      if (topicArn) topics.add(topicArn);
    },
    env: { SNS_ENDPOINT: `http://127.0.0.1:${(sns.address() as AddressInfo).port}`, DNS_SERVERS: dns.address, SNS_ALLOWED_TOPIC_ARNS: topicArn() },
    async close() {
      sns.closeAllConnections?.();
      await new Promise<void>((resolve) => sns.close(() => resolve()));
      await dns.close();
    },
  };
}
