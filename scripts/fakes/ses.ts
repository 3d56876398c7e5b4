/**
 * A fake Amazon SES (v2) over real HTTP, for tests and benches. The real `@aws-sdk/client-sesv2`
 * client talks to it through its `endpoint` option (set `SES_ENDPOINT` to `fake.url`), and it
 * answers with the SESv2 REST-JSON shapes the SDK parses:
 *
 * - `POST /v2/email/outbound-emails` (SendEmail) → 200 `{"MessageId": "..."}`
 * - `GET  /v2/email/account` (GetAccount) → 200 with SendQuota / SendingEnabled /
 *   ProductionAccessEnabled / EnforcementStatus (configurable; `SentLast24Hours` adds the
 *   recipients the fake accepted in the last 24 hours), or 404 UnknownOperationException with
 *   `account: 'unimplemented'` (the base account's quota is still enforced: an SES always has one)
 * - errors as SES sends them: status + `x-amzn-errortype: <Name>:<namespace>` + JSON `{"message"}`
 * - anything else → 404 UnknownOperationException; an unsigned request → 403
 *
 * It enforces the account it advertises, always (scripts/fakes/ses-limits.ts): the maximum send
 * rate in recipients (a bucket of one second's worth), the 24-hour quota (Max24HourSend, -1 =
 * unlimited) and SESv2's 40 MB message size. A test that wants more advertises more
 * (`account: { SendQuota: { MaxSendRate: 100000, Max24HourSend: -1 } }`); there is no switch.
 *
 * Usage:
 *
 *   const ses = await startFakeSes({ latencyMs: [20, 150] });
 *   process.env.SES_ENDPOINT = ses.url;              // or createSesClient({ aws: { region, endpoint: ses.url } })
 *   ses.setFailure({ next: 3, error: 'TooManyRequestsException' });        // the next 3 SendEmail calls → 429
 *   ses.setFailure({ to: 'bad@example.com', error: 'MessageRejected' });    // every call to that address
 *   ses.setFailure({ afterSends: 100, error: 'SendingPausedException' });  // once 100 were accepted, all later calls
 *   ses.setFailure({ when: (call) => call.subject === 'x', error: { status: 400, type: 'BadRequestException', message: '...' } });
 *   ses.setFailure({ next: 1, error: 'reset' });                            // drop the connection (ECONNRESET / socket hang up)
 *   ses.setFailure({ next: 1, error: 'hang' });                             // never answer (client timeout)
 *   ses.holdAnswers({ after: 60 });  // calls after the 60th arrive but get no answer until releaseAnswers()
 *   await ses.whenCalls(68);         // resolves once 68 SendEmail calls have arrived (an event, not a poll)
 *   ...
 *   ses.sent   // accepted emails (answered with a MessageId), in order: decoded request + fields below
 *   ses.calls  // EVERY SendEmail request, accepted or refused, with its outcome
 *   ses.callCount, ses.sentCount  // how many; with `{ keepCalls: false }` (large benches) only these
 *                                 // and the `onCall(call)` option see the calls: nothing is kept
 *   await ses.close();
 *
 * Rules are checked in the order they were set; the first that matches decides. `next` and
 * `times` count down and the rule expires at 0. Error names: see `SES_ERRORS` (or pass a
 * `{ status, type, message }` of your own); `{to}` in a message is replaced by the recipient.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createSendingLimits, MAX_MESSAGE_BYTES, messageBytes, type SendQuota } from './ses-limits';

export interface FakeSesErrorSpec {
  status: number;
  /** The error name, sent as `x-amzn-errortype`. */
  type: string;
  message: string;
  headers?: Record<string, string>;
}

/** Real SESv2 error names, statuses and messages. */
export const SES_ERRORS = {
  TooManyRequestsException: { status: 429, type: 'TooManyRequestsException', message: 'Maximum sending rate exceeded.' },
  Throttling: { status: 400, type: 'Throttling', message: 'Rate exceeded' },
  DailyQuotaExceeded: { status: 429, type: 'TooManyRequestsException', message: 'Daily message quota exceeded.' },
  MessageRejected: {
    status: 400,
    type: 'MessageRejected',
    message: 'Email address is not verified. The following identities failed the check in region EU-WEST-1: {to}',
  },
  InvalidRecipientAddress: { status: 400, type: 'BadRequestException', message: "Illegal address: Missing final '@domain' in {to}" },
  AccountSuspendedException: {
    status: 400,
    type: 'AccountSuspendedException',
    message: "The message can't be sent because the account's ability to send email has been permanently restricted.",
  },
  SendingPausedException: {
    status: 400,
    type: 'SendingPausedException',
    message: "The message can't be sent because the account's ability to send email is currently paused.",
  },
  MailFromDomainNotVerifiedException: {
    status: 400,
    type: 'MailFromDomainNotVerifiedException',
    message: "The message can't be sent because the sending domain isn't verified.",
  },
  LimitExceededException: { status: 400, type: 'LimitExceededException', message: 'Daily message quota exceeded.' },
  /** Over SESv2's 40 MB (scripts/fakes/ses-limits.ts says where the wording comes from). */
  MessageTooLarge: { status: 400, type: 'MessageRejected', message: `Message length is more than ${MAX_MESSAGE_BYTES} bytes long.` },
  NotFoundException: { status: 404, type: 'NotFoundException', message: 'Configuration set <news> does not exist.' },
  InvalidClientTokenId: {
    status: 403,
    type: 'InvalidClientTokenId',
    message: 'The security token included in the request is invalid.',
  },
  SignatureDoesNotMatch: {
    status: 403,
    type: 'SignatureDoesNotMatch',
    message:
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
  },
  AccessDeniedException: {
    status: 403,
    type: 'AccessDeniedException',
    message: 'User: arn:aws:iam::123456789012:user/mailout is not authorized to perform: ses:SendEmail',
  },
  InternalFailure: {
    status: 500,
    type: 'InternalFailure',
    message: 'The request processing has failed because of an unknown error, exception or failure.',
  },
  ServiceUnavailable: { status: 503, type: 'ServiceUnavailable', message: 'Service is unable to handle request.' },
} satisfies Record<string, FakeSesErrorSpec>;

export type SesErrorName = keyof typeof SES_ERRORS;
/** An error to answer with, or `reset` (destroy the socket) / `hang` (never answer). */
export type FailureSpec = SesErrorName | FakeSesErrorSpec | 'reset' | 'hang';

export type FailureRule =
  | { next: number; error: FailureSpec }
  | { to: string | string[]; error: FailureSpec; times?: number }
  | { afterSends: number; error: FailureSpec }
  | { when: (call: SendEmailCall) => boolean; error: FailureSpec; times?: number };

/** The decoded SendEmail request body (SESv2 JSON). */
export interface SendEmailBody {
  FromEmailAddress?: string;
  Destination?: { ToAddresses?: string[]; CcAddresses?: string[]; BccAddresses?: string[] };
  ReplyToAddresses?: string[];
  ConfigurationSetName?: string;
  EmailTags?: Array<{ Name: string; Value: string }>;
  Content?: {
    Simple?: {
      Subject?: { Data: string; Charset?: string };
      Body?: { Text?: { Data: string; Charset?: string }; Html?: { Data: string; Charset?: string } };
      Headers?: Array<{ Name: string; Value: string }>;
    };
    Raw?: { Data: string };
    Template?: unknown;
  };
  [key: string]: unknown;
}

export interface SendEmailCall {
  /** 1-based arrival order among SendEmail calls. */
  n: number;
  /** performance.now() when the request arrived (same clock as the pacer's default). */
  receivedAt: number;
  at: Date;
  body: SendEmailBody;
  requestHeaders: http.IncomingHttpHeaders;
  from?: string;
  to: string[];
  cc: string[];
  bcc: string[];
  subject?: string;
  html?: string;
  text?: string;
  /** Content.Simple.Headers as a name → value map (last wins). */
  headers: Record<string, string>;
  /** EmailTags as a name → value map. */
  tags: Record<string, string>;
  configurationSet?: string;
  outcome: { status: number; messageId?: string; error?: string } | { status: 'reset' | 'hang' | 'pending' };
}

export type AccountOverrides = {
  SendingEnabled?: boolean;
  ProductionAccessEnabled?: boolean;
  EnforcementStatus?: string;
  SendQuota?: { Max24HourSend?: number; MaxSendRate?: number; SentLast24Hours?: number };
  [key: string]: unknown;
};

export type LatencySpec = number | [min: number, max: number] | ((call: SendEmailCall | null) => number);

export interface FakeSesOptions {
  /** Delay before every answer (SendEmail and GetAccount): fixed, uniform [min, max], or computed. */
  latencyMs?: LatencySpec;
  /** GetAccount fields over a healthy production account; 'unimplemented' → 404 UnknownOperation. */
  account?: AccountOverrides | 'unimplemented';
  /** GetAccount answers with this error instead. */
  getAccountError?: FailureSpec;
  failures?: FailureRule[];
  random?: () => number;
  port?: number;
  /**
   * Keep every call in `sent` / `calls` (default true). False for large benches: nothing is
   * kept (the lists stay empty), only `callCount` / `sentCount` and `onCall` see the calls.
   */
  keepCalls?: boolean;
  /** Called with every SendEmail call once its outcome is decided (accepted or refused). */
  onCall?: (call: SendEmailCall) => void;
  /** The clock of the sending limits, ms, monotonic (default performance.now; tests pass a fake clock). */
  now?: () => number;
}

export interface FakeSes {
  url: string;
  /** Accepted emails (answered 200 with a MessageId), in order. */
  sent: SendEmailCall[];
  /** Every SendEmail request, in arrival order, with its outcome. */
  calls: SendEmailCall[];
  /** How many SendEmail requests arrived / were accepted (counted even with `keepCalls: false`). */
  readonly callCount: number;
  readonly sentCount: number;
  /** How many GetAccount requests arrived. */
  getAccountCalls: number;
  setFailure(rule: FailureRule): void;
  clearFailures(): void;
  setAccount(account: AccountOverrides | 'unimplemented'): void;
  setGetAccountError(error: FailureSpec | undefined): void;
  setLatency(latency: LatencySpec): void;
  /**
   * Calls numbered above `after` (default 0) arrive and are counted but get no answer until
   * `releaseAnswers()`: a test can stop the world with a known set of messages in flight.
   */
  holdAnswers(opts?: { after?: number }): void;
  releaseAnswers(): void;
  /** Resolves once `n` SendEmail calls have arrived. */
  whenCalls(n: number): Promise<void>;
  /** Forget recorded calls, rules and the 24-hour count (keeps account and latency; the rate bucket runs on). */
  reset(): void;
  close(): Promise<void>;
}

const NAMESPACE = 'http://internal.amazon.com/coral/com.amazonaws.sesv2/';

/** A healthy production account as GetAccount answers it (also FakeAws's, tests/setup-tools). */
export function baseAccount(): Record<string, unknown> {
  return {
    DedicatedIpAutoWarmupEnabled: false,
    EnforcementStatus: 'HEALTHY',
    ProductionAccessEnabled: true,
    SendingEnabled: true,
    SendQuota: { Max24HourSend: 50000, MaxSendRate: 14, SentLast24Hours: 0 },
    SuppressionAttributes: { SuppressedReasons: ['BOUNCE', 'COMPLAINT'] },
    Details: {
      MailType: 'MARKETING',
      WebsiteURL: 'https://example.com',
      ContactLanguage: 'EN',
      UseCaseDescription: 'Newsletter',
      AdditionalContactEmailAddresses: [],
      ReviewDetails: { Status: 'GRANTED', CaseId: '1234567890' },
    },
  };
}

export async function startFakeSes(options: FakeSesOptions = {}): Promise<FakeSes> {
  const random = options.random ?? Math.random;
  let latency: LatencySpec = options.latencyMs ?? 0;
  let account: AccountOverrides | 'unimplemented' = options.account ?? {};
  let getAccountError: FailureSpec | undefined = options.getAccountError;
  let rules: Array<FailureRule & { left?: number }> = [];
  const keepCalls = options.keepCalls ?? true;
  const onCall = options.onCall;
  const now = options.now ?? (() => performance.now());
  const limits = createSendingLimits();
  /** The account's SendQuota as GetAccount advertises it (the base account's where not overridden). */
  const sendQuota = (): SendQuota => {
    const overrides = account === 'unimplemented' ? {} : (account.SendQuota ?? {});
    return { ...(baseAccount().SendQuota as SendQuota), ...overrides };
  };
  const sent: SendEmailCall[] = [];
  const calls: SendEmailCall[] = [];
  let callCount = 0;
  let sentCount = 0;
  const sockets = new Set<Socket>();
  let messageCounter = 0;
  let getAccountCalls = 0;
  let hold: { after: number; released: Promise<void>; release: () => void } | null = null;
  let callWaiters: Array<{ n: number; resolve: () => void }> = [];
  const notifyCalls = () => {
    const ready = callWaiters.filter((w) => callCount >= w.n);
    callWaiters = callWaiters.filter((w) => callCount < w.n);
    for (const w of ready) w.resolve();
  };

  const addRule = (rule: FailureRule) => {
    const left = 'next' in rule ? rule.next : 'times' in rule ? rule.times : undefined;
    rules.push({ ...rule, ...(left !== undefined ? { left } : {}) });
  };
  for (const r of options.failures ?? []) addRule(r);

  const delayFor = (call: SendEmailCall | null): number => {
    if (typeof latency === 'number') return latency;
    if (typeof latency === 'function') return latency(call);
    const [min, max] = latency;
    return min + random() * (max - min);
  };

  const matchRule = (call: SendEmailCall): FailureSpec | undefined => {
    rules = rules.filter((r) => r.left === undefined || r.left > 0);
    for (const rule of rules) {
      if (rule.left !== undefined && rule.left <= 0) continue;
      let hit = false;
      if ('next' in rule) hit = true;
      else if ('to' in rule) {
        const targets = (Array.isArray(rule.to) ? rule.to : [rule.to]).map((a) => a.toLowerCase());
        hit = [...call.to, ...call.cc, ...call.bcc].some((a) => targets.includes(bareAddress(a)));
      } else if ('afterSends' in rule) hit = sentCount >= rule.afterSends;
      else hit = rule.when(call);
      if (hit) {
        if (rule.left !== undefined) rule.left -= 1;
        return rule.error;
      }
    }
    return undefined;
  };

  const sendError = (res: http.ServerResponse, spec: FakeSesErrorSpec, to?: string) => {
    const message = spec.message.replace('{to}', to ?? '');
    res.writeHead(spec.status, {
      'content-type': 'application/json',
      'x-amzn-errortype': `${spec.type}:${NAMESPACE}`,
      'x-amzn-requestid': requestId(),
      ...(spec.headers ?? {}),
    });
    res.end(JSON.stringify({ message }));
  };

  /** Answers with a failure; returns what was done. */
  const fail = (req: http.IncomingMessage, res: http.ServerResponse, failure: FailureSpec, to?: string): 'reset' | 'hang' | number => {
    if (failure === 'reset') {
      req.socket.destroy();
      return 'reset';
    }
    if (failure === 'hang') return 'hang';
    const spec = typeof failure === 'string' ? SES_ERRORS[failure] : failure;
    sendError(res, spec, to);
    return spec.status;
  };

  const server = http.createServer((req, res) => {
    const arrivedAt = now(); // SES judges the rate when a request arrives, not when it is answered
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void handle(req, res, Buffer.concat(chunks).toString('utf8'), arrivedAt).catch((err: unknown) => {
        if (!res.headersSent) sendError(res, { status: 500, type: 'InternalFailure', message: String(err) });
      });
    });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, raw: string, arrivedAt: number): Promise<void> {
    const receivedAt = performance.now();
    const path = (req.url ?? '/').split('?')[0];
    const auth = req.headers.authorization;
    if (!auth || !auth.startsWith('AWS4-HMAC-SHA256')) {
      sendError(res, { status: 403, type: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' });
      return;
    }

    if (req.method === 'GET' && path === '/v2/email/account') {
      getAccountCalls += 1;
      await wait(delayFor(null));
      if (getAccountError) {
        fail(req, res, getAccountError);
        return;
      }
      if (account === 'unimplemented') {
        sendError(res, { status: 404, type: 'UnknownOperationException', message: 'Unknown operation' });
        return;
      }
      const quota = sendQuota();
      quota.SentLast24Hours += limits.sentLast24Hours(now());
      const body = { ...baseAccount(), ...account, SendQuota: quota };
      res.writeHead(200, { 'content-type': 'application/json', 'x-amzn-requestid': requestId() });
      res.end(JSON.stringify(body));
      return;
    }

    if (req.method === 'POST' && path === '/v2/email/outbound-emails') {
      let body: SendEmailBody;
      try {
        body = JSON.parse(raw || '{}') as SendEmailBody;
      } catch {
        sendError(res, { status: 400, type: 'BadRequestException', message: 'Request body is not valid JSON' });
        return;
      }
      const simple = body.Content?.Simple;
      const call: SendEmailCall = {
        n: callCount + 1,
        receivedAt,
        at: new Date(),
        body,
        requestHeaders: req.headers,
        ...(body.FromEmailAddress !== undefined ? { from: body.FromEmailAddress } : {}),
        to: body.Destination?.ToAddresses ?? [],
        cc: body.Destination?.CcAddresses ?? [],
        bcc: body.Destination?.BccAddresses ?? [],
        ...(simple?.Subject?.Data !== undefined ? { subject: simple.Subject.Data } : {}),
        ...(simple?.Body?.Html?.Data !== undefined ? { html: simple.Body.Html.Data } : {}),
        ...(simple?.Body?.Text?.Data !== undefined ? { text: simple.Body.Text.Data } : {}),
        headers: Object.fromEntries((simple?.Headers ?? []).map((h) => [h.Name, h.Value])),
        tags: Object.fromEntries((body.EmailTags ?? []).map((t) => [t.Name, t.Value])),
        ...(body.ConfigurationSetName !== undefined ? { configurationSet: body.ConfigurationSetName } : {}),
        outcome: { status: 'pending' },
      };
      callCount += 1;
      if (keepCalls) calls.push(call);
      notifyCalls();
      const recipients = call.to.length + call.cc.length + call.bcc.length;
      const withinRate = limits.admitRate(sendQuota(), arrivedAt, recipients);
      await wait(delayFor(call));
      if (hold && call.n > hold.after) await hold.released;

      if (!body.Content || (!body.Content.Simple && !body.Content.Raw && !body.Content.Template)) {
        sendError(res, { status: 400, type: 'BadRequestException', message: 'Content is required' });
        call.outcome = { status: 400, error: 'BadRequestException' };
        onCall?.(call);
        return;
      }
      if (call.to.length + call.cc.length + call.bcc.length === 0 && !body.Content.Raw) {
        sendError(res, { status: 400, type: 'BadRequestException', message: 'Destination is required' });
        call.outcome = { status: 400, error: 'BadRequestException' };
        onCall?.(call);
        return;
      }

      const failure = matchRule(call) ?? limitRefusal(body, recipients, withinRate);
      if (failure !== undefined) {
        const done = fail(req, res, failure, call.to[0]);
        call.outcome =
          typeof done === 'number'
            ? { status: done, error: typeof failure === 'string' ? SES_ERRORS[failure as SesErrorName].type : failure.type }
            : { status: done };
        onCall?.(call);
        return;
      }
      messageCounter += 1;
      const messageId = `0100018f${messageCounter.toString(16).padStart(8, '0')}-fake-ses-000000`;
      call.outcome = { status: 200, messageId };
      sentCount += 1;
      limits.recordSent(now(), recipients);
      if (keepCalls) sent.push(call);
      onCall?.(call);
      res.writeHead(200, { 'content-type': 'application/json', 'x-amzn-requestid': requestId() });
      res.end(JSON.stringify({ MessageId: messageId }));
      return;
    }

    sendError(res, { status: 404, type: 'UnknownOperationException', message: `Unknown operation ${req.method} ${path}` });
  }

  /** What the account refuses: the rate (judged at arrival), the size, the 24-hour quota. */
  function limitRefusal(body: SendEmailBody, recipients: number, withinRate: boolean): SesErrorName | undefined {
    if (!withinRate) return 'TooManyRequestsException';
    if (messageBytes(body.Content) > MAX_MESSAGE_BYTES) return 'MessageTooLarge';
    if (!limits.fitsDaily(sendQuota(), now(), recipients)) return 'DailyQuotaExceeded';
    return undefined;
  }

  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    sent,
    calls,
    get getAccountCalls() {
      return getAccountCalls;
    },
    get callCount() {
      return callCount;
    },
    get sentCount() {
      return sentCount;
    },
    setFailure: addRule,
    clearFailures() {
      rules = [];
    },
    setAccount(next) {
      account = next;
    },
    setGetAccountError(error) {
      getAccountError = error;
    },
    setLatency(next) {
      latency = next;
    },
    holdAnswers(opts = {}) {
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      hold = { after: opts.after ?? 0, released, release };
    },
    releaseAnswers() {
      hold?.release();
      hold = null;
    },
    whenCalls(n) {
      if (callCount >= n) return Promise.resolve();
      return new Promise<void>((resolve) => callWaiters.push({ n, resolve }));
    },
    reset() {
      sent.length = 0;
      calls.length = 0;
      callCount = 0;
      sentCount = 0;
      limits.forgetSent();
      rules = [];
      getAccountCalls = 0;
      hold?.release();
      hold = null;
    },
    close() {
      hold?.release();
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function wait(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}

function requestId(): string {
  return `${Math.random().toString(16).slice(2, 10)}-fake-ses`;
}

/** "Name <a@b>" → "a@b", lower-cased. */
function bareAddress(address: string): string {
  const m = /<([^>]+)>/.exec(address);
  return (m ? m[1]! : address).trim().toLowerCase();
}
