import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SendEmailCommand, type SendEmailCommandInput } from '@aws-sdk/client-sesv2';
import { buildSendEmailInput } from '../../lib/message';
import { classifySesError, createSesClient } from '../../lib/ses';
import { createSendEmail } from '../../lib/ses/send-email';
import { startFakeSes, type FailureSpec } from '../../scripts/fakes/ses';

/**
 * The send loop's SendEmail (lib/ses/send-email.ts) sends what the SDK sends, signed as AWS
 * checks it, and fails the way the SDK fails: same body, a valid SigV4 signature, the same
 * classification for every failure the engine handles.
 */
const KEYS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

const input: SendEmailCommandInput = buildSendEmailInput({
  from: { email: 'news@example.com', name: 'Новости / News' },
  replyTo: 'editor@example.com',
  to: 'reader@example.com',
  subject: 'Привет, "readers" — issue #1 ✉️',
  html: '<p>Hello <b>reader</b> \u2028 emoji 😀 and a backslash \\ and a tab \t</p>',
  text: 'Hello reader\nline two',
  unsubscribeUrl: 'https://mailout.example.com/api/unsubscribe?t=abc',
  mailoutId: '11111111-2222-4333-8444-555555555555',
  configurationSet: 'news',
});

interface RawRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
}

/** Checks a request's SigV4 signature from what arrived, as AWS does (the AWS SigV4 documentation's steps). */
function verifySigV4(req: RawRequest, secret: string): boolean {
  const auth = String(req.headers.authorization);
  const m = /^AWS4-HMAC-SHA256 Credential=[^/]+\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return false;
  const [, date, region, service, signedHeaders, signature] = m;
  const names = signedHeaders!.split(';');
  const canonicalHeaders = names.map((n) => `${n}:${String(req.headers[n]).trim().replace(/\s+/g, ' ')}\n`).join('');
  const canonicalRequest = [req.method, req.path, '', canonicalHeaders, signedHeaders, createHash('sha256').update(req.body).digest('hex')].join('\n');
  const amzDate = String(req.headers['x-amz-date']);
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonicalRequest).digest('hex')].join('\n');
  let key: Buffer = createHmac('sha256', `AWS4${secret}`).update(date!).digest();
  for (const part of [region!, service!, 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
  return createHmac('sha256', key).update(toSign).digest('hex') === signature;
}

describe('createSendEmail', () => {
  let server: http.Server;
  let url: string;
  const seen: RawRequest[] = [];
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ method: req.method!, path: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ MessageId: `m-${seen.length}` }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('sends the body the SDK sends, to the same path, with a valid SigV4 signature for SES in the region', async () => {
    const client = createSesClient({ aws: { region: 'eu-west-1', endpoint: url, credentials: KEYS } });
    const viaSdk = await client.send(new SendEmailCommand(input));
    const lean = await createSendEmail(client)(input);
    expect(viaSdk.MessageId).toBe('m-1');
    expect(lean).toEqual({ MessageId: 'm-2' });
    const [sdk, ours] = seen.slice(-2) as [RawRequest, RawRequest];
    expect(ours.method).toBe('POST');
    expect(ours.path).toBe(sdk.path);
    expect(ours.path).toBe('/v2/email/outbound-emails');
    expect(JSON.parse(ours.body)).toEqual(JSON.parse(sdk.body));
    expect(ours.headers['content-type']).toBe('application/json');
    expect(Number(ours.headers['content-length'])).toBe(Buffer.byteLength(ours.body));
    // The checker is right about the SDK's own request, and ours passes it too.
    expect(verifySigV4(sdk, KEYS.secretAccessKey)).toBe(true);
    expect(verifySigV4(ours, KEYS.secretAccessKey)).toBe(true);
    expect(verifySigV4({ ...ours, body: ours.body.replace('reader@', 'other@') }, KEYS.secretAccessKey)).toBe(false);
    expect(String(ours.headers.authorization)).toMatch(/Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/ses\/aws4_request/);
    expect(String(ours.headers.authorization)).toMatch(/SignedHeaders=[^,]*host/);
    client.destroy();
  });

  it('a request prepared (signed) ahead of its slot can be sent, and sent again for a retry', async () => {
    const client = createSesClient({ aws: { region: 'eu-west-1', endpoint: url, credentials: KEYS } });
    const sendEmail = createSendEmail(client);
    const prepared = await sendEmail.prepare(input);
    const before = seen.length;
    expect((await sendEmail.send(prepared)).MessageId).toBe(`m-${before + 1}`);
    expect((await sendEmail.send(prepared)).MessageId).toBe(`m-${before + 2}`);
    const [first, again] = seen.slice(-2) as [RawRequest, RawRequest];
    expect(again.body).toBe(first.body);
    expect(verifySigV4(first, KEYS.secretAccessKey)).toBe(true);
    expect(verifySigV4(again, KEYS.secretAccessKey)).toBe(true);
    client.destroy();
  });

  it('a body already serialized (the send loop\'s) goes out as those bytes, signed', async () => {
    const client = createSesClient({ aws: { region: 'eu-west-1', endpoint: url, credentials: KEYS } });
    const bytes = Buffer.from(JSON.stringify(input), 'utf8');
    await createSendEmail(client)(bytes);
    const ours = seen[seen.length - 1]!;
    expect(Buffer.from(ours.body, 'utf8').equals(bytes)).toBe(true);
    expect(Number(ours.headers['content-length'])).toBe(bytes.length);
    expect(verifySigV4(ours, KEYS.secretAccessKey)).toBe(true);
    client.destroy();
  });

  it('signs with a session token when the credentials have one', async () => {
    const client = createSesClient({ aws: { region: 'us-east-1', endpoint: url, credentials: { ...KEYS, sessionToken: 'TOKEN123' } } });
    await createSendEmail(client)(input);
    const ours = seen[seen.length - 1]!;
    expect(ours.headers['x-amz-security-token']).toBe('TOKEN123');
    expect(verifySigV4(ours, KEYS.secretAccessKey)).toBe(true);
    client.destroy();
  });

  it('goes to the regional SES endpoint when no SES_ENDPOINT is set', async () => {
    const client = createSesClient({ aws: { region: 'eu-central-1', credentials: KEYS } });
    const seenUrls: string[] = [];
    const cfg = client.config as unknown as { requestHandler: { handle: (r: { protocol: string; hostname: string; path: string }) => Promise<never> } };
    cfg.requestHandler.handle = async (r) => {
      seenUrls.push(`${r.protocol}//${r.hostname}${r.path}`);
      throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    };
    await expect(createSendEmail(client)(input)).rejects.toThrow(/ECONNREFUSED/);
    expect(seenUrls).toEqual(['https://email.eu-central-1.amazonaws.com/v2/email/outbound-emails']);
  });
});

describe('createSendEmail fails the way the SDK does', () => {
  const cases: Array<{ failure: FailureSpec; kind: string; throttled?: boolean; maybeDelivered?: boolean }> = [
    { failure: 'TooManyRequestsException', kind: 'retry', throttled: true },
    { failure: 'Throttling', kind: 'retry', throttled: true },
    { failure: 'DailyQuotaExceeded', kind: 'account' },
    { failure: 'MessageRejected', kind: 'recipient' },
    { failure: 'InvalidRecipientAddress', kind: 'recipient' },
    { failure: 'SendingPausedException', kind: 'account' },
    { failure: 'AccountSuspendedException', kind: 'account' },
    { failure: 'InvalidClientTokenId', kind: 'account' },
    { failure: { status: 503, type: 'ServiceUnavailable', message: 'Service Unavailable' }, kind: 'retry' },
    { failure: { status: 429, type: 'TooManyRequestsException', message: 'Maximum sending rate exceeded.', headers: { 'retry-after': '2' } }, kind: 'retry', throttled: true },
    { failure: 'reset', kind: 'retry', maybeDelivered: true },
    { failure: 'hang', kind: 'retry', maybeDelivered: true },
  ];
  it.each(cases)('$failure: classified $kind as through the SDK', async ({ failure, kind, throttled, maybeDelivered }) => {
    const ses = await startFakeSes();
    // A short request timeout only where the fake never answers: a late answer (a busy machine) must not time out.
    const client = createSesClient({ aws: { region: 'eu-west-1', endpoint: ses.url } }, failure === 'hang' ? { requestTimeoutMs: 250 } : {});
    try {
      ses.setFailure({ next: 2, error: failure });
      const sdkErr = await client.send(new SendEmailCommand(input)).then(() => null, (e: unknown) => e);
      const ourErr = await createSendEmail(client)(input).then(() => null, (e: unknown) => e);
      const context = { fromEmail: 'news@example.com' };
      const sdk = classifySesError(sdkErr, context);
      const ours = classifySesError(ourErr, context);
      // What the engine acts on is the same; a dropped connection keeps its errno (ECONNRESET)
      // where the SDK wraps it into "NetworkError".
      const acted = ({ kind, throttled, maybeDelivered, status, retryAfterMs }: typeof ours) => ({ kind, throttled, maybeDelivered, status, retryAfterMs });
      expect(acted(ours)).toEqual(acted(sdk));
      if (sdk.status !== undefined) expect(ours).toEqual(sdk);
      expect(ours.kind).toBe(kind);
      expect(ours.throttled).toBe(throttled ?? false);
      expect(ours.maybeDelivered).toBe(maybeDelivered ?? false);
    } finally {
      client.destroy();
      await ses.close();
    }
  });
});
