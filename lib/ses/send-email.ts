import type { SendEmailCommandInput, SESv2Client } from '@aws-sdk/client-sesv2';
import { createSigV4Signer, type Sha256Constructor, type SigningCredentials, type SigV4Signer } from './sigv4';

/**
 * SESv2 `SendEmail` for the send loop, with the SDK's own parts but not its serializer.
 *
 * The send loop's CPU per recipient is what Vercel bills. Profiled, `client.send(new
 * SendEmailCommand(…))` costs ~0.8 ms of CPU for a 19 KB letter, most of it the SDK's schema
 * JSON serializer (a character loop into a buffer that starts at 2 KB and doubles, ~60 KB of
 * garbage per message) and its garbage collection; `JSON.stringify` of the same input is a few
 * microseconds. So the request is built here: the same REST-JSON body (`SendEmailCommandInput`
 * member names are the wire names), signed as the SDK's SigV4 signer signs it (lib/ses/sigv4.ts:
 * the client's credentials chain, region and clock-skew offset), sent through the client's own HTTP handler (its keep-alive
 * agent and timeouts, so network failures and timeouts look exactly as they do through the SDK),
 * to the client's endpoint (SES_ENDPOINT) or the regional SES endpoint its endpoint rules give.
 * Errors are shaped like the SDK's service exceptions (`name` from `x-amzn-errortype`,
 * `message`, `$metadata.httpStatusCode`, `$response`), which is what `classifySesError` reads.
 * ~0.3 ms per message, measured the same way. The send loop hands in the body already
 * serialized (lib/send/recipient-message.ts), as bytes: encoded once for the length, the payload
 * hash and the socket.
 *
 * `prepare` (serialize and sign) and `send` (the HTTP request) are apart so that the send loop
 * signs before its slot and only the request itself is paced: the CPU work between a slot and
 * the request leaving, stretched on a busy machine, would bunch arrivals at SES. A prepared
 * request may be sent again (a retry): its signature stays valid for minutes.
 */
export interface PreparedSend {
  readonly request: unknown;
}

/** The input, or the input already serialized: the UTF-8 bytes of its JSON (lib/send/recipient-message.ts). */
export type SendEmailPayload = SendEmailCommandInput | Buffer;

export interface SendEmail {
  (input: SendEmailPayload): Promise<{ MessageId?: string }>;
  prepare(input: SendEmailPayload): Promise<PreparedSend>;
  send(prepared: PreparedSend): Promise<{ MessageId?: string }>;
}

interface HttpResponseLike {
  statusCode: number;
  headers: Record<string, string>;
  body: unknown;
}

/** The parts of the SESv2 client's resolved configuration this uses. */
interface ClientParts {
  region: () => Promise<string>;
  isCustomEndpoint?: boolean;
  endpoint?: () => Promise<{ protocol: string; hostname: string; port?: number; path: string }>;
  endpointProvider: (params: Record<string, unknown>) => { url: URL };
  useFipsEndpoint?: () => Promise<boolean>;
  useDualstackEndpoint?: () => Promise<boolean>;
  sha256: Sha256Constructor;
  /** The credentials chain, memoized and refreshed by the SDK. */
  credentials: () => Promise<SigningCredentials>;
  requestHandler: { handle(request: unknown, options?: Record<string, unknown>): Promise<{ response: HttpResponseLike }> };
  streamCollector: (body: unknown) => Promise<Uint8Array>;
  systemClockOffset?: number;
}

const PATH = '/v2/email/outbound-emails';

interface Target {
  protocol: string;
  hostname: string;
  port?: number;
  basePath: string;
  region: string;
  signer: SigV4Signer;
}

async function resolveTarget(cfg: ClientParts): Promise<Target> {
  const region = await cfg.region();
  if (cfg.isCustomEndpoint && cfg.endpoint) {
    const e = await cfg.endpoint();
    return { protocol: e.protocol, hostname: e.hostname, ...(e.port ? { port: e.port } : {}), basePath: e.path, region, signer: createSigV4Signer(region, 'ses', cfg.sha256) };
  }
  const { url } = cfg.endpointProvider({
    Region: region,
    UseFIPS: (await cfg.useFipsEndpoint?.()) ?? false,
    UseDualStack: (await cfg.useDualstackEndpoint?.()) ?? false,
  });
  return {
    protocol: url.protocol,
    hostname: url.hostname,
    ...(url.port ? { port: Number(url.port) } : {}),
    basePath: url.pathname,
    region,
    signer: createSigV4Signer(region, 'ses', cfg.sha256),
  };
}

/** An error shaped like the SDK's service exceptions, from SES's error answer. */
function serviceError(res: HttpResponseLike, text: string): Error {
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON: the status says enough
  }
  const header = Object.entries(res.headers).find(([k]) => k.toLowerCase() === 'x-amzn-errortype')?.[1];
  const name =
    header?.split(':')[0] ||
    (typeof body.__type === 'string' ? body.__type.split('#').pop() : undefined) ||
    (typeof body.code === 'string' ? body.code : undefined) ||
    'Unknown';
  const message = String(body.message ?? body.Message ?? `SES answered HTTP ${res.statusCode}`);
  const err = new Error(message) as Error & Record<string, unknown>;
  err.name = name;
  if (typeof body.type === 'string') err.type = body.type; // the aws-ses-v2-local emulator
  err.$fault = res.statusCode >= 500 ? 'server' : 'client';
  err.$metadata = { httpStatusCode: res.statusCode };
  err.$response = { statusCode: res.statusCode, headers: res.headers };
  return err;
}

export function createSendEmail(client: SESv2Client): SendEmail {
  const cfg = client.config as unknown as ClientParts;
  let target: Promise<Target> | undefined;
  async function prepare(input: SendEmailPayload): Promise<PreparedSend> {
    const t = await (target ??= resolveTarget(cfg).catch((err: unknown) => {
      target = undefined; // try again next time
      throw err;
    }));
    // Bytes, not a string: encoded once, for the length, the payload hash and the socket alike.
    const body = Buffer.isBuffer(input) ? input : Buffer.from(JSON.stringify(input), 'utf8');
    const path = `${t.basePath.replace(/\/$/, '')}${PATH}`;
    const host = t.port ? `${t.hostname}:${t.port}` : t.hostname;
    const credentials = await cfg.credentials();
    if (typeof credentials?.accessKeyId !== 'string' || typeof credentials.secretAccessKey !== 'string') {
      throw new Error('Resolved credential object is not valid'); // the SDK signer's words
    }
    const headers = await t.signer.sign(
      { method: 'POST', path, headers: { host, 'content-type': 'application/json', 'content-length': String(body.length) }, body },
      credentials,
      new Date(Date.now() + (cfg.systemClockOffset ?? 0)),
    );
    return { request: { method: 'POST', protocol: t.protocol, hostname: t.hostname, ...(t.port ? { port: t.port } : {}), path, query: {}, headers, body } };
  }
  async function send(prepared: PreparedSend): Promise<{ MessageId?: string }> {
    const { response } = await cfg.requestHandler.handle(prepared.request);
    const text = Buffer.from(await cfg.streamCollector(response.body)).toString('utf8');
    if (response.statusCode < 200 || response.statusCode >= 300) throw serviceError(response, text);
    const parsed = text ? (JSON.parse(text) as { MessageId?: string }) : {};
    return { ...(parsed.MessageId !== undefined ? { MessageId: parsed.MessageId } : {}) };
  }
  return Object.assign(async (input: SendEmailPayload) => send(await prepare(input)), { prepare, send });
}
