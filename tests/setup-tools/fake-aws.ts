import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { baseAccount } from '../../scripts/fakes/ses';

/**
 * A stateful fake of the AWS APIs the setup helper calls, at their HTTP boundary:
 * SNS and STS (AWS Query protocol: form-encoded POST, XML answers) and SESv2 (REST-JSON,
 * /v2/email/configuration-sets...). Every request is recorded with its operation name.
 */

export interface RecordedAwsRequest {
  service: 'sns' | 'sts' | 'sesv2';
  operation: string;
  method: string;
  path: string;
  params: Record<string, string>;
  body: unknown;
}

interface FakeSubscription {
  arn: string;
  topicArn: string;
  protocol: string;
  endpoint: string;
  pending: boolean;
  attributes: Record<string, string>;
}

interface FakeDestination {
  Name: string;
  Enabled: boolean;
  MatchingEventTypes: string[];
  SnsDestination?: { TopicArn: string };
}

const SNS_NS = 'http://sns.amazonaws.com/doc/2010-03-31/';
const STS_NS = 'https://sts.amazonaws.com/doc/2011-06-15/';

const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

class AwsError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const WRITE_OPERATIONS = new Set([
  'CreateTopic',
  'Subscribe',
  'SetSubscriptionAttributes',
  'Unsubscribe',
  'DeleteTopic',
  'CreateConfigurationSet',
  'CreateConfigurationSetEventDestination',
  'UpdateConfigurationSetEventDestination',
  'DeleteConfigurationSet',
  'DeleteConfigurationSetEventDestination',
]);

export class FakeAws {
  readonly accountId = '123456789012';
  readonly region = 'eu-west-1';
  readonly requests: RecordedAwsRequest[] = [];
  /** Topics per ListTopics page (to exercise NextToken). */
  topicsPageSize = 2;
  /** Answer this operation with an error instead (e.g. AccessDenied). */
  failures = new Map<string, { status: number; code: string; message: string }>();
  topics: string[] = [];
  subscriptions: FakeSubscription[] = [];
  configurationSets = new Map<string, Map<string, FakeDestination>>();
  /** SESv2 GetEmailIdentity answers, by identity (a domain or an address); absent → 404 NotFoundException. */
  identities = new Map<string, Record<string, unknown>>();
  /** SESv2 GetAccount's fields over a healthy production account. */
  account: Record<string, unknown> = {};
  private server?: http.Server;

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    if (this.server) await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  topicArn(name: string): string {
    return `arn:aws:sns:${this.region}:${this.accountId}:${name}`;
  }

  addTopic(name: string): string {
    const arn = this.topicArn(name);
    if (!this.topics.includes(arn)) this.topics.push(arn);
    return arn;
  }

  addSubscription(topicArn: string, protocol: string, endpoint: string, opts: { pending?: boolean; raw?: boolean } = {}): FakeSubscription {
    const sub: FakeSubscription = {
      arn: `${topicArn}:${randomUUID()}`,
      topicArn,
      protocol,
      endpoint,
      pending: opts.pending ?? false,
      attributes: { RawMessageDelivery: opts.raw ? 'true' : 'false' },
    };
    this.subscriptions.push(sub);
    return sub;
  }

  /**
   * A domain identity as GetEmailIdentity returns it once verified with Easy DKIM and a custom
   * MAIL FROM (shape: docs.aws.amazon.com/ses/latest/APIReference-V2/API_GetEmailIdentity.html);
   * `fields` override it (e.g. `DkimAttributes: { ...Status: 'PENDING' }`).
   */
  addIdentity(name: string, fields: Record<string, unknown> = {}): void {
    const domain = name.slice(name.lastIndexOf('@') + 1);
    this.identities.set(name, {
      IdentityType: name.includes('@') ? 'EMAIL_ADDRESS' : 'DOMAIN',
      FeedbackForwardingStatus: true,
      VerifiedForSendingStatus: true,
      VerificationStatus: 'SUCCESS',
      DkimAttributes: {
        SigningEnabled: true,
        Status: 'SUCCESS',
        Tokens: ['4yd6kbhxk5vdxe3ppjbifg4kbayhrwgq', 'x5mdrtlbmxbd7wrtv4ckvpuaf6zfajpr', 'l2i2ymcwtrzosrjnvwvshlxb5azgqxq2'],
        SigningAttributesOrigin: 'AWS_SES',
        NextSigningKeyLength: 'RSA_2048_BIT',
        CurrentSigningKeyLength: 'RSA_2048_BIT',
        LastKeyGenerationTimestamp: 1_764_000_000,
      },
      MailFromAttributes: { MailFromDomain: `bounce.${domain}`, MailFromDomainStatus: 'SUCCESS', BehaviorOnMxFailure: 'USE_DEFAULT_VALUE' },
      Policies: {},
      Tags: [],
      VerificationInfo: { LastCheckedTimestamp: 1_764_000_000, LastSuccessTimestamp: 1_764_000_000 },
      ...fields,
    });
  }

  /** What the deployed endpoint does on SubscriptionConfirmation. */
  confirmAll(): void {
    for (const s of this.subscriptions) s.pending = false;
  }

  operations(): string[] {
    return this.requests.map((r) => r.operation);
  }

  writes(): RecordedAwsRequest[] {
    return this.requests.filter((r) => WRITE_OPERATIONS.has(r.operation));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = req.method ?? 'GET';
    const signed = /^AWS4-HMAC-SHA256 Credential=/.test(String(req.headers.authorization ?? ''));

    if (url.pathname.startsWith('/v2/email/')) {
      let body: unknown;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        body = raw;
      }
      const operation = sesOperation(method, url.pathname);
      this.requests.push({ service: 'sesv2', operation, method, path: url.pathname, params: {}, body });
      const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-requestid': randomUUID(), ...headers });
        res.end(JSON.stringify(payload));
      };
      try {
        if (!signed) throw new AwsError(403, 'UnrecognizedClientException', 'Missing SigV4 signature.');
        const failure = this.failures.get(operation);
        if (failure) throw new AwsError(failure.status, failure.code, failure.message);
        send(200, this.ses(operation, url.pathname, body));
      } catch (err) {
        const e = err instanceof AwsError ? err : new AwsError(500, 'InternalFailure', String(err));
        send(e.status, { message: e.message }, { 'x-amzn-errortype': `${e.code}:http://internal.amazon.com/coral/com.amazonaws.sesv2/` });
      }
      return;
    }

    const params = Object.fromEntries(new URLSearchParams(raw));
    const operation = params.Action ?? '(none)';
    const service = params.Version === '2011-06-15' ? 'sts' : 'sns';
    this.requests.push({ service, operation, method, path: url.pathname, params, body: raw });
    const ns = service === 'sts' ? STS_NS : SNS_NS;
    const requestId = randomUUID();
    res.setHeader('content-type', 'text/xml');
    res.setHeader('x-amzn-requestid', requestId);
    try {
      if (method !== 'POST') throw new AwsError(400, 'InvalidAction', 'Query API requests are POSTed.');
      if (!signed) throw new AwsError(403, 'InvalidClientTokenId', 'Missing SigV4 signature.');
      if (service === 'sns' && params.Version !== '2010-03-31') throw new AwsError(400, 'InvalidParameter', `Unknown Version ${params.Version}`);
      const failure = this.failures.get(operation);
      if (failure) throw new AwsError(failure.status, failure.code, failure.message);
      const result = service === 'sts' ? this.sts(operation) : this.sns(operation, params);
      res.writeHead(200);
      res.end(
        `<${operation}Response xmlns="${ns}">` +
          (result === null ? '' : `<${operation}Result>${result}</${operation}Result>`) +
          `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${operation}Response>`,
      );
    } catch (err) {
      const e = err instanceof AwsError ? err : new AwsError(500, 'InternalError', String(err));
      res.writeHead(e.status);
      res.end(
        `<ErrorResponse xmlns="${ns}"><Error><Type>${e.status < 500 ? 'Sender' : 'Receiver'}</Type><Code>${e.code}</Code>` +
          `<Message>${xmlEscape(e.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
      );
    }
  }

  private sts(operation: string): string {
    if (operation !== 'GetCallerIdentity') throw new AwsError(400, 'InvalidAction', `${operation} is not served by this fake.`);
    return `<Arn>arn:aws:iam::${this.accountId}:user/setup</Arn><UserId>AIDAFAKEUSERID</UserId><Account>${this.accountId}</Account>`;
  }

  private sns(operation: string, p: Record<string, string>): string | null {
    switch (operation) {
      case 'ListTopics': {
        const start = Number(p.NextToken ?? 0);
        const page = this.topics.slice(start, start + this.topicsPageSize);
        const next = start + this.topicsPageSize < this.topics.length ? `<NextToken>${start + this.topicsPageSize}</NextToken>` : '';
        return `<Topics>${page.map((arn) => `<member><TopicArn>${arn}</TopicArn></member>`).join('')}</Topics>${next}`;
      }
      case 'CreateTopic': {
        if (!p.Name || !/^[A-Za-z0-9_-]{1,256}$/.test(p.Name)) throw new AwsError(400, 'InvalidParameter', 'Invalid parameter: Topic Name');
        return `<TopicArn>${this.addTopic(p.Name)}</TopicArn>`;
      }
      case 'ListSubscriptionsByTopic': {
        if (!p.TopicArn || !this.topics.includes(p.TopicArn)) throw new AwsError(404, 'NotFound', 'Topic does not exist');
        const subs = this.subscriptions.filter((s) => s.topicArn === p.TopicArn);
        return (
          '<Subscriptions>' +
          subs
            .map(
              (s) =>
                `<member><TopicArn>${s.topicArn}</TopicArn><Protocol>${s.protocol}</Protocol>` +
                `<SubscriptionArn>${s.pending ? 'PendingConfirmation' : s.arn}</SubscriptionArn>` +
                `<Owner>${this.accountId}</Owner><Endpoint>${xmlEscape(s.endpoint)}</Endpoint></member>`,
            )
            .join('') +
          '</Subscriptions>'
        );
      }
      case 'Subscribe': {
        if (!p.TopicArn || !this.topics.includes(p.TopicArn)) throw new AwsError(404, 'NotFound', 'Topic does not exist');
        if (!['http', 'https'].includes(p.Protocol ?? '')) throw new AwsError(400, 'InvalidParameter', 'Invalid parameter: Protocol');
        if (!p.Endpoint?.startsWith(`${p.Protocol}://`)) throw new AwsError(400, 'InvalidParameter', 'Invalid parameter: Endpoint must match the protocol');
        let sub = this.subscriptions.find((s) => s.topicArn === p.TopicArn && s.protocol === p.Protocol && s.endpoint === p.Endpoint);
        sub ??= this.addSubscription(p.TopicArn, p.Protocol!, p.Endpoint, { pending: true });
        // Query protocol maps: Attributes.entry.N.key / Attributes.entry.N.value.
        for (const [k, key] of Object.entries(p)) {
          const m = /^Attributes\.entry\.(\d+)\.key$/.exec(k);
          if (!m) continue;
          const value = p[`Attributes.entry.${m[1]}.value`] ?? '';
          validateSubscriptionAttribute(key, value);
          sub.attributes[key] = value;
        }
        const arn = sub.pending && p.ReturnSubscriptionArn !== 'true' ? 'pending confirmation' : sub.arn;
        return `<SubscriptionArn>${arn}</SubscriptionArn>`;
      }
      case 'GetSubscriptionAttributes': {
        const sub = this.subscriptions.find((s) => s.arn === p.SubscriptionArn);
        if (!sub) throw new AwsError(404, 'NotFound', 'Subscription does not exist');
        const attrs: Record<string, string> = {
          ...sub.attributes,
          SubscriptionArn: sub.arn,
          TopicArn: sub.topicArn,
          Protocol: sub.protocol,
          Endpoint: sub.endpoint,
          Owner: this.accountId,
          PendingConfirmation: String(sub.pending),
          ConfirmationWasAuthenticated: 'false',
        };
        return `<Attributes>${Object.entries(attrs)
          .map(([k, v]) => `<entry><key>${k}</key><value>${xmlEscape(v)}</value></entry>`)
          .join('')}</Attributes>`;
      }
      case 'SetSubscriptionAttributes': {
        const sub = this.subscriptions.find((s) => s.arn === p.SubscriptionArn);
        if (!sub) throw new AwsError(404, 'NotFound', 'Subscription does not exist');
        if (!p.AttributeName) throw new AwsError(400, 'InvalidParameter', 'AttributeName is required');
        if (sub.pending) throw new AwsError(400, 'InvalidParameter', 'Invalid parameter: the subscription is pending confirmation');
        validateSubscriptionAttribute(p.AttributeName, p.AttributeValue ?? '');
        sub.attributes[p.AttributeName] = p.AttributeValue ?? '';
        return null;
      }
      default:
        throw new AwsError(400, 'InvalidAction', `${operation} is not served by this fake.`);
    }
  }

  private ses(operation: string, path: string, body: unknown): unknown {
    const parts = path.split('/').map(decodeURIComponent); // ['', 'v2', 'email', 'configuration-sets', name?, 'event-destinations'?, dest?]
    const name = parts[4];
    const set = name ? this.configurationSets.get(name) : undefined;
    const notFound = () => new AwsError(404, 'NotFoundException', `Configuration set <${name}> does not exist.`);
    switch (operation) {
      case 'GetAccount':
        // Shape: docs.aws.amazon.com/ses/latest/APIReference-V2/API_GetAccount.html
        return { ...baseAccount(), ...this.account };
      case 'GetEmailIdentity': {
        const identity = this.identities.get(decodeURIComponent(path.split('/')[4] ?? ''));
        if (!identity) throw new AwsError(404, 'NotFoundException', `Email identity <${path.split('/')[4]}> does not exist.`);
        return identity;
      }
      case 'GetConfigurationSet':
        if (!set) throw notFound();
        return {
          ConfigurationSetName: name,
          TrackingOptions: {},
          DeliveryOptions: { TlsPolicy: 'OPTIONAL' },
          ReputationOptions: { ReputationMetricsEnabled: false },
          SendingOptions: { SendingEnabled: true },
          Tags: [],
          SuppressionOptions: {},
        };
      case 'CreateConfigurationSet': {
        const b = body as { ConfigurationSetName?: string };
        if (!b?.ConfigurationSetName) throw new AwsError(400, 'BadRequestException', 'ConfigurationSetName is required.');
        if (this.configurationSets.has(b.ConfigurationSetName)) {
          throw new AwsError(400, 'AlreadyExistsException', `Configuration set <${b.ConfigurationSetName}> already exists.`);
        }
        this.configurationSets.set(b.ConfigurationSetName, new Map());
        return {};
      }
      case 'GetConfigurationSetEventDestinations':
        if (!set) throw notFound();
        return { EventDestinations: [...set.values()] };
      case 'CreateConfigurationSetEventDestination': {
        if (!set) throw notFound();
        const b = body as { EventDestinationName?: string; EventDestination?: Omit<FakeDestination, 'Name'> };
        if (!b?.EventDestinationName || !b.EventDestination) throw new AwsError(400, 'BadRequestException', 'EventDestinationName and EventDestination are required.');
        if (set.has(b.EventDestinationName)) throw new AwsError(400, 'AlreadyExistsException', `Event destination ${b.EventDestinationName} already exists.`);
        validateDestination(b.EventDestination);
        set.set(b.EventDestinationName, { Name: b.EventDestinationName, ...b.EventDestination });
        return {};
      }
      case 'UpdateConfigurationSetEventDestination': {
        if (!set) throw notFound();
        const dest = parts[6]!;
        if (!set.has(dest)) throw new AwsError(404, 'NotFoundException', `Event destination ${dest} does not exist.`);
        const b = body as { EventDestination?: Omit<FakeDestination, 'Name'> };
        if (!b?.EventDestination) throw new AwsError(400, 'BadRequestException', 'EventDestination is required.');
        validateDestination(b.EventDestination);
        set.set(dest, { Name: dest, ...b.EventDestination });
        return {};
      }
      default:
        throw new AwsError(404, 'UnknownOperationException', `${operation} is not served by this fake.`);
    }
  }
}

/**
 * SNS's checks of the attributes setup sets: an HTTP/S delivery policy within SNS's limits
 * (numRetries ≤ 100, delays ≤ 3,600 s, and about 3,600 s of retrying in all:
 * https://docs.aws.amazon.com/sns/latest/dg/sns-message-delivery-retries.html) and a redrive
 * policy naming an SQS queue.
 */
function validateSubscriptionAttribute(name: string, value: string): void {
  const bad = (why: string) => new AwsError(400, 'InvalidParameter', `Invalid parameter: ${name}: ${why}`);
  if (!['RawMessageDelivery', 'DeliveryPolicy', 'RedrivePolicy', 'FilterPolicy', 'FilterPolicyScope'].includes(name)) throw bad('unknown attribute');
  if (name === 'RedrivePolicy') {
    const arn = (JSON.parse(value) as { deadLetterTargetArn?: string }).deadLetterTargetArn ?? '';
    if (!/^arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,80}$/.test(arn)) throw bad('deadLetterTargetArn must be an SQS queue ARN');
  }
  if (name === 'DeliveryPolicy') {
    const r = (JSON.parse(value) as { healthyRetryPolicy?: Record<string, number | string> }).healthyRetryPolicy;
    if (!r) throw bad('healthyRetryPolicy is required');
    const n = Number(r.numRetries), min = Number(r.minDelayTarget), max = Number(r.maxDelayTarget);
    if (!(n >= 0 && n <= 100) || !(min >= 1 && min <= max && max <= 3600)) throw bad('retry counts or delays out of range');
    // The time the policy retries for: linear spacing is the mean delay times the retries.
    const total = r.backoffFunction === 'linear' ? (n * (min + max)) / 2 : n * max;
    if (total > 3600) throw bad(`the policy retries for ${total} s, more than 3600 s`);
  }
}

const EVENT_TYPES = ['SEND', 'REJECT', 'BOUNCE', 'COMPLAINT', 'DELIVERY', 'OPEN', 'CLICK', 'RENDERING_FAILURE', 'DELIVERY_DELAY', 'SUBSCRIPTION'];

function validateDestination(d: Omit<FakeDestination, 'Name'>): void {
  if (!Array.isArray(d.MatchingEventTypes) || d.MatchingEventTypes.length === 0) {
    throw new AwsError(400, 'BadRequestException', 'MatchingEventTypes is required.');
  }
  for (const t of d.MatchingEventTypes) if (!EVENT_TYPES.includes(t)) throw new AwsError(400, 'BadRequestException', `Unknown event type ${t}.`);
  if (d.SnsDestination && !/^arn:aws[a-z0-9-]*:sns:[a-z0-9-]+:\d{12}:[^:]+$/.test(d.SnsDestination.TopicArn)) {
    throw new AwsError(400, 'BadRequestException', 'Invalid SNS topic ARN.');
  }
}

function sesOperation(method: string, path: string): string {
  const parts = path.split('/').filter(Boolean); // v2 email configuration-sets [name] [event-destinations] [dest]
  if (method === 'GET' && parts[2] === 'account' && parts.length === 3) return 'GetAccount';
  if (method === 'GET' && parts[2] === 'identities' && parts.length === 4) return 'GetEmailIdentity';
  if (parts[2] !== 'configuration-sets') return `${method} ${path}`;
  if (parts.length === 3) return method === 'POST' ? 'CreateConfigurationSet' : method === 'GET' ? 'ListConfigurationSets' : `${method} ${path}`;
  if (parts.length === 4) return method === 'GET' ? 'GetConfigurationSet' : method === 'DELETE' ? 'DeleteConfigurationSet' : `${method} ${path}`;
  if (parts[4] === 'event-destinations' && parts.length === 5) {
    return method === 'GET' ? 'GetConfigurationSetEventDestinations' : method === 'POST' ? 'CreateConfigurationSetEventDestination' : `${method} ${path}`;
  }
  if (parts[4] === 'event-destinations' && parts.length === 6) {
    return method === 'PUT' ? 'UpdateConfigurationSetEventDestination' : method === 'DELETE' ? 'DeleteConfigurationSetEventDestination' : `${method} ${path}`;
  }
  return `${method} ${path}`;
}
