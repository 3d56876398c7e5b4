import { createVerify, X509Certificate } from 'node:crypto';
import { AppError } from '../errors';
import { withTimeout } from '../timeout';

/**
 * Amazon SNS over HTTPS: the message envelope, its signature, and the signing certificate.
 *
 * Verification follows the AWS documentation ("Verifying the signatures of Amazon SNS
 * messages"), with the same checks as the `sns-payload-validator` package, whose certificate
 * download cannot be given a timeout nor pointed at a test certificate:
 *   1. the body is JSON with a known `Type` and every field that type signs;
 *   2. `SigningCertURL` is https on an SNS host (`sns.<region>.amazonaws.com[.cn]`) and names
 *      a `SimpleNotificationService-<id>.pem` file; anything else is refused unfetched;
 *   3. the certificate is fetched with a timeout, cached, and must be currently valid; a failed
 *      download is remembered for 10 seconds, and at most 20 downloads start per minute;
 *   4. the signature is SHA1withRSA (SignatureVersion 1) or SHA256withRSA (2) over the
 *      canonical string: for each signed key present, in order, `Key\nValue\n`.
 */

export type SnsMessageType = 'Notification' | 'SubscriptionConfirmation' | 'UnsubscribeConfirmation';

export interface SnsEnvelope {
  Type: SnsMessageType;
  MessageId: string;
  TopicArn: string;
  Message: string;
  Timestamp: string;
  SignatureVersion: '1' | '2';
  Signature: string;
  SigningCertURL: string;
  Subject?: string;
  Token?: string;
  SubscribeURL?: string;
  UnsubscribeURL?: string;
}

/** The keys each message type signs, in the order they enter the string to sign. */
export const SIGNED_KEYS: Record<SnsMessageType, readonly (keyof SnsEnvelope)[]> = {
  Notification: ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'],
  SubscriptionConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
  UnsubscribeConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
};

const OPTIONAL_KEYS = new Set<keyof SnsEnvelope>(['Subject']);

const SNS_HOST = /^sns\.[a-z0-9-]{3,}\.amazonaws\.com(\.cn)?$/;
const CERT_URL = /^https:\/\/sns\.[a-z0-9-]{3,}\.amazonaws\.com(\.cn)?\/SimpleNotificationService-[a-zA-Z0-9]{32}\.pem$/;

/** Is this a certificate URL SNS itself would use? Checked before anything is fetched. */
export function isSnsCertUrl(url: string): boolean {
  if (!CERT_URL.test(url)) return false;
  try {
    const u = new URL(url);
    return u.protocol === 'https:' && SNS_HOST.test(u.hostname) && u.port === '' && !u.username && !u.password;
  } catch {
    return false;
  }
}

/** Is this an SNS ConfirmSubscription URL (https, SNS host)? */
export function isSnsSubscribeUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return (
      u.protocol === 'https:' &&
      SNS_HOST.test(u.hostname) &&
      u.port === '' &&
      !u.username &&
      !u.password &&
      u.searchParams.get('Action') === 'ConfirmSubscription'
    );
  } catch {
    return false;
  }
}

/** Parse and shape-check an SNS POST body. Every failure is a 400 with the reason. */
export function parseSnsEnvelope(bodyText: string): SnsEnvelope {
  if (bodyText.trim() === '') throw new AppError('bad_request', 'The body is empty; expected an SNS message (JSON).');
  let raw: unknown;
  try {
    raw = JSON.parse(bodyText);
  } catch {
    throw new AppError('bad_request', 'The body is not JSON; expected an SNS message.');
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new AppError('bad_request', 'The body is not a JSON object; expected an SNS message.');
  }
  const o = raw as Record<string, unknown>;
  const type = o.Type;
  if (type !== 'Notification' && type !== 'SubscriptionConfirmation' && type !== 'UnsubscribeConfirmation') {
    throw new AppError('bad_request', `Unknown SNS message type${typeof type === 'string' ? ` "${type.slice(0, 40)}"` : ''}.`);
  }
  const required: (keyof SnsEnvelope)[] = [
    ...SIGNED_KEYS[type].filter((k) => !OPTIONAL_KEYS.has(k)),
    'SignatureVersion',
    'Signature',
    'SigningCertURL',
  ];
  for (const k of required) {
    if (typeof o[k] !== 'string' || (o[k] as string).length === 0) {
      throw new AppError('bad_request', `The SNS ${type} has no ${k}.`);
    }
  }
  for (const k of OPTIONAL_KEYS) {
    if (o[k] !== undefined && o[k] !== null && typeof o[k] !== 'string') {
      throw new AppError('bad_request', `The SNS ${type} has a malformed ${k}.`);
    }
  }
  if (o.SignatureVersion !== '1' && o.SignatureVersion !== '2') {
    throw new AppError('bad_request', 'Unsupported SNS SignatureVersion (expected 1 or 2).');
  }
  return o as unknown as SnsEnvelope;
}

/** The canonical string SNS signs for this message. */
export function stringToSign(envelope: SnsEnvelope): string {
  let out = '';
  for (const key of SIGNED_KEYS[envelope.Type]) {
    const value = envelope[key];
    if (value === undefined || value === null) continue;
    out += `${key}\n${value}\n`;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Certificates: fetched with a timeout, cached per fetcher, one download per URL at a time.
// ---------------------------------------------------------------------------------------

/** Downloads the PEM at `url` (an SNS host, already checked); must honour `signal`. */
export type CertificateFetcher = (url: string, signal: AbortSignal) => Promise<string>;

export interface CertificateCacheOptions {
  timeoutMs?: number;
  ttlMs?: number;
  maxEntries?: number;
  /** How long a failed download is remembered (answered from memory, not fetched again). */
  failureTtlMs?: number;
  /** Downloads allowed per rolling minute, whatever the URL; beyond it, refused unfetched. */
  maxFetchesPerMinute?: number;
  now?: () => number;
}

interface CachedCert {
  pem: string;
  expires: number;
}

interface CachedFailure {
  error: AppError;
  until: number;
}

class CertificateCache {
  private readonly entries = new Map<string, CachedCert>();
  private readonly failures = new Map<string, CachedFailure>();
  private readonly inFlight = new Map<string, Promise<string>>();
  private fetchTimes: number[] = [];
  constructor(
    private readonly fetcher: CertificateFetcher,
    private readonly opts: Required<CertificateCacheOptions>,
  ) {}

  async get(url: string): Promise<string> {
    const now = this.opts.now();
    const hit = this.entries.get(url);
    if (hit && hit.expires > now) return hit.pem;
    const failed = this.failures.get(url);
    if (failed && failed.until > now) throw failed.error;
    const running = this.inFlight.get(url);
    if (running) return running;
    this.takeFetchBudget(now);
    const p = this.download(url)
      .catch((err: unknown) => {
        this.rememberFailure(url, err);
        throw err;
      })
      .finally(() => this.inFlight.delete(url));
    this.inFlight.set(url, p);
    return p;
  }

  /** Unsigned junk with SNS-shaped certificate URLs must not turn this server into a downloader. */
  private takeFetchBudget(now: number): void {
    this.fetchTimes = this.fetchTimes.filter((t) => t > now - 60_000);
    if (this.fetchTimes.length >= this.opts.maxFetchesPerMinute) {
      throw new AppError('upstream', `Too many SNS signing certificate downloads this minute (at most ${this.opts.maxFetchesPerMinute}); try again later.`);
    }
    this.fetchTimes.push(now);
  }

  private rememberFailure(url: string, err: unknown): void {
    const error = err instanceof AppError ? err : new AppError('upstream', 'The SNS signing certificate could not be fetched.');
    if (this.failures.size >= this.opts.maxEntries) {
      const oldest = this.failures.keys().next().value;
      if (oldest !== undefined) this.failures.delete(oldest);
    }
    this.failures.set(url, { error, until: this.opts.now() + this.opts.failureTtlMs });
  }

  private async download(url: string): Promise<string> {
    const { timeoutMs } = this.opts;
    let pem: string;
    try {
      pem = await withTimeout(timeoutMs, () => new AppError('upstream', `The SNS signing certificate did not arrive within ${timeoutMs} ms.`), (signal) => this.fetcher(url, signal));
    } catch (err) {
      if (err instanceof AppError) throw err;
      throw new AppError('upstream', `The SNS signing certificate could not be fetched: ${(err as Error).message}`, { cause: err });
    }
    if (typeof pem !== 'string' || !pem.includes('-----BEGIN CERTIFICATE-----')) {
      throw new AppError('upstream', 'The SNS signing certificate URL did not return a PEM certificate.');
    }
    if (this.entries.size >= this.opts.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(url, { pem, expires: this.opts.now() + this.opts.ttlMs });
    return pem;
  }
}

/** The production fetcher: global fetch, no redirects, the caller's abort signal. */
export const httpsCertificateFetcher: CertificateFetcher = async (url, signal) => {
  const res = await fetch(url, { signal, redirect: 'error' });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return res.text();
};

const caches = new WeakMap<CertificateFetcher, CertificateCache>();

/** The cache of one fetcher (module-wide, so a warm function instance reuses it). */
export function certificateCacheFor(fetcher: CertificateFetcher, opts: CertificateCacheOptions = {}): CertificateCache {
  let cache = caches.get(fetcher);
  if (!cache) {
    cache = new CertificateCache(fetcher, {
      timeoutMs: opts.timeoutMs ?? 5_000,
      ttlMs: opts.ttlMs ?? 6 * 60 * 60 * 1000,
      maxEntries: opts.maxEntries ?? 50,
      // Shorter than SNS's 20 s between retries, so a retried message fetches again.
      failureTtlMs: opts.failureTtlMs ?? 10_000,
      maxFetchesPerMinute: opts.maxFetchesPerMinute ?? 20,
      now: opts.now ?? Date.now,
    });
    caches.set(fetcher, cache);
  }
  return cache;
}

export type { CertificateCache };

// ---------------------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------------------

const certValidity = new Map<string, { from: number; to: number }>();

function certificateIsCurrent(pem: string): boolean {
  let v = certValidity.get(pem);
  if (!v) {
    try {
      const cert = new X509Certificate(pem);
      v = { from: Date.parse(cert.validFrom), to: Date.parse(cert.validTo) };
    } catch {
      return false;
    }
    if (certValidity.size > 100) certValidity.clear();
    certValidity.set(pem, v);
  }
  const now = Date.now();
  return v.from <= now && now <= v.to;
}

/**
 * Verify an envelope's signature. Throws AppError: `bad_request` for a certificate URL off
 * an SNS host (never fetched), `unauthorized` for a signature that does not verify,
 * `upstream` when the certificate cannot be had (SNS should retry).
 */
export async function verifySnsEnvelope(envelope: SnsEnvelope, certificates: CertificateCache): Promise<void> {
  if (!isSnsCertUrl(envelope.SigningCertURL)) {
    throw new AppError('bad_request', 'The SigningCertURL is not an Amazon SNS certificate URL.');
  }
  const pem = await certificates.get(envelope.SigningCertURL);
  if (!certificateIsCurrent(pem)) {
    throw new AppError('unauthorized', 'The SNS signing certificate is not valid now.');
  }
  const verifier = createVerify(envelope.SignatureVersion === '1' ? 'RSA-SHA1' : 'RSA-SHA256');
  verifier.update(stringToSign(envelope), 'utf8');
  let ok = false;
  try {
    ok = verifier.verify(pem, envelope.Signature, 'base64');
  } catch {
    ok = false;
  }
  if (!ok) throw new AppError('unauthorized', 'The SNS message signature does not verify.');
}
