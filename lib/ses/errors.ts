/**
 * What an SES failure means for a mailout. Three kinds, because the send loop does three things:
 *
 * - `retry`: transient; try this recipient again after a back-off (and slow the pace when
 *   `throttled`).
 * - `recipient`: this one message cannot be sent; record the recipient as failed, go on.
 * - `account`: every further message would fail the same way (sending paused, quota gone, bad
 *   credentials, missing identity/configuration set, a request SES rejects for every
 *   recipient); pause the whole mailout instead of failing the list one by one.
 *
 * `maybeDelivered` is true when the request may have reached SES before it failed (a timeout or
 * reset after the request was written): retrying could send the email twice, so
 * `sendWithRetry` does not retry it (at most once wins: the caller records `unknown`) unless
 * the call is a read that is safe to repeat (`retryMaybeDelivered: true`, the pre-flight).
 */
export type SesErrorKind = 'retry' | 'recipient' | 'account';

export interface SesErrorInfo {
  kind: SesErrorKind;
  /** The SES error name (e.g. `MessageRejected`), a Node error code (`ECONNRESET`) or `HTTP_<status>`. */
  code: string;
  message: string;
  /** The HTTP status SES answered with, when it answered. */
  status?: number;
  /** From a `Retry-After` header, when SES sent one. */
  retryAfterMs?: number;
  /** Throttling: the pacer should slow down. */
  throttled: boolean;
  /** The request may have been accepted by SES although the call failed (see above). */
  maybeDelivered: boolean;
}

/** A classified SES failure, as thrown by `sendWithRetry`. */
export class SesError extends Error implements SesErrorInfo {
  readonly kind: SesErrorKind;
  readonly code: string;
  readonly status?: number;
  readonly retryAfterMs?: number;
  readonly throttled: boolean;
  readonly maybeDelivered: boolean;
  /** How many attempts were made before giving up (1 = no retry). */
  readonly attempts: number;

  constructor(info: SesErrorInfo, options: { cause?: unknown; attempts?: number } = {}) {
    super(info.message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'SesError';
    this.kind = info.kind;
    this.code = info.code;
    if (info.status !== undefined) this.status = info.status;
    if (info.retryAfterMs !== undefined) this.retryAfterMs = info.retryAfterMs;
    this.throttled = info.throttled;
    this.maybeDelivered = info.maybeDelivered;
    this.attempts = options.attempts ?? 1;
  }

  info(): SesErrorInfo {
    return {
      kind: this.kind,
      code: this.code,
      message: this.message,
      ...(this.status !== undefined ? { status: this.status } : {}),
      ...(this.retryAfterMs !== undefined ? { retryAfterMs: this.retryAfterMs } : {}),
      throttled: this.throttled,
      maybeDelivered: this.maybeDelivered,
    };
  }
}

export function isSesError(err: unknown, kind?: SesErrorKind): err is SesError {
  return err instanceof SesError && (kind === undefined || err.kind === kind);
}

export interface ClassifyContext {
  /** The configured sender: a rejection naming it is about the account, not the recipient. */
  fromEmail?: string;
}

// --- the mappings, each with its reason ---------------------------------------------------

/** Throttling: SES (or the AWS front door) refuses for now; the same request will pass later. */
const THROTTLING = new Set([
  'TooManyRequestsException', // SESv2: per-second rate (MaxSendRate) exceeded
  'Throttling', // SES v1 / AWS query-protocol spelling of the same
  'ThrottlingException', // generic AWS throttling
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'RequestLimitExceeded', // EC2-style spelling some gateways use
  'SlowDown',
  'ProvisionedThroughputExceededException',
]);

/** Server faults: SES failed, not our request; SES's own guidance is to retry with back-off. */
const SERVER = new Set([
  'InternalFailure', // AWS common error, 500
  'InternalServiceErrorException', // SESv2 modelled 500
  'InternalError',
  'InternalServerError',
  'ServiceUnavailable', // AWS common error, 503
  'ServiceUnavailableException',
  'ServiceException',
  'RequestTimeout', // the server timed out reading our request (it did not process it)
  'RequestTimeoutException',
  'ConcurrentModificationException', // SESv2 modelled 500: a racing update, retryable
]);

/** Account-level: every further message would fail the same way; pause, do not fail the list. */
const ACCOUNT: Record<string, string> = {
  SendingPausedException: 'sending is paused for the account or the configuration set',
  AccountSuspendedException: 'the account can no longer send (suspended)',
  MailFromDomainNotVerifiedException: 'the custom MAIL FROM domain of the sender is not verified (a DNS/identity fix, for everyone)',
  LimitExceededException: 'an account limit (e.g. the daily sending quota) is used up',
  NotFoundException: 'the sending identity or the configuration set does not exist',
  // Credentials, signature, authorisation: a deployment problem, the same for every message.
  InvalidClientTokenId: 'the access key id is unknown',
  UnrecognizedClientException: 'the access key id is unknown',
  InvalidAccessKeyId: 'the access key id is unknown',
  SignatureDoesNotMatch: 'the secret access key is wrong',
  IncompleteSignature: 'the request signature is malformed',
  MissingAuthenticationToken: 'the request was not signed',
  MissingAuthenticationTokenException: 'the request was not signed',
  AccessDeniedException: 'the credentials lack ses:SendEmail for this identity',
  AccessDenied: 'the credentials lack ses:SendEmail for this identity',
  AuthFailure: 'the credentials were refused',
  ExpiredToken: 'the session token has expired',
  ExpiredTokenException: 'the session token has expired',
  InvalidSignatureException: 'the request signature is wrong (clock skew or secret)',
  OptInRequired: 'the account is not subscribed to SES in this region',
  CredentialsProviderError: 'no AWS credentials were found',
  AccountSendingPausedException: 'sending is paused for the account', // v1 spelling
  ConfigurationSetDoesNotExistException: 'the configuration set does not exist', // v1 spelling
  ConfigurationSetSendingPausedException: 'sending is paused for the configuration set', // v1 spelling
};

/** Connection never established: the request cannot have reached SES. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN']);
/** Connection dropped or timed out mid-request: transient, but SES may have accepted it. */
const DROPPED = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ESOCKETTIMEDOUT', 'ECONNABORTED', 'UND_ERR_SOCKET']);

/** A rejection that is about an address (the recipient's, unless it names the sender). */
const ADDRESS_PROBLEM =
  /(address|recipient|destination|mailbox|local part|domain contains|missing final '@|illegal|not verified|failed the check)/i;
/** "Daily message quota exceeded": throttling in name, but no retry within minutes will help. */
const DAILY_QUOTA = /(daily (message )?quota|24[- ]?hour|sending quota)/i;

type AnyError = {
  name?: unknown;
  code?: unknown;
  Code?: unknown;
  type?: unknown;
  message?: unknown;
  detail?: unknown;
  $fault?: unknown;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number };
  $response?: { statusCode?: number; headers?: Record<string, string | undefined> };
  cause?: unknown;
};

function text(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v : undefined;
}

function retryAfterMsOf(e: AnyError): number | undefined {
  const headers = e.$response?.headers;
  if (!headers) return undefined;
  const key = Object.keys(headers).find((k) => k.toLowerCase() === 'retry-after');
  const raw = key ? headers[key] : undefined;
  if (!raw) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/**
 * Classify anything an SES call threw. Pure; never throws. An `SesError` is returned as it is.
 */
export function classifySesError(err: unknown, context: ClassifyContext = {}): SesErrorInfo {
  if (err instanceof SesError) return err.info();
  const e: AnyError = typeof err === 'object' && err !== null ? (err as AnyError) : { message: String(err) };
  const status = e.$metadata?.httpStatusCode ?? e.$response?.statusCode;
  // The SDK names unmodelled errors after `x-amzn-errortype`; "Unknown" when there was none
  // (then a body `type`, as the aws-ses-v2-local emulator sends, is the best name we have).
  const sdkName = text(e.name);
  const name =
    sdkName && sdkName !== 'Unknown' && sdkName !== 'Error' && sdkName !== 'UnknownError' ? sdkName : (text(e.type) ?? sdkName);
  const message = [text(e.message), text(e.detail)].filter(Boolean).join(': ') || name || 'SES call failed';
  // A Node errno; from the message when the SDK wrapped a foreign-realm error into a string
  // ("AWS SDK error wrapper for Error: connect ECONNREFUSED ...").
  const errno =
    text(e.code) ??
    text((e.cause as AnyError | undefined)?.code) ??
    [...message.matchAll(/\b(E[A-Z]{3,}|UND_ERR_[A-Z_]+)\b/g)].map((m) => m[1]!).find((c) => NOT_CONNECTED.has(c) || DROPPED.has(c));
  const base = { message, ...(status !== undefined ? { status } : {}) };
  const result = (kind: SesErrorKind, code: string, extra: Partial<SesErrorInfo> = {}): SesErrorInfo => ({
    kind,
    code,
    ...base,
    throttled: false,
    maybeDelivered: false,
    ...extra,
  });

  // 1. Network and timeout failures (no HTTP answer).
  if (status === undefined) {
    if (errno && NOT_CONNECTED.has(errno)) return result('retry', errno); // nothing was sent; try again
    if (name === 'TimeoutError') {
      // "did not establish a connection": never sent. Any other timeout: the request was out.
      const neverConnected = /establish a connection/i.test(message);
      return result('retry', errno ?? 'TimeoutError', { maybeDelivered: !neverConnected });
    }
    if (errno && DROPPED.has(errno)) return result('retry', errno, { maybeDelivered: true }); // transient, maybe sent
    if (/socket hang up|network|ECONNRESET|EPIPE|other side closed/i.test(message)) {
      return result('retry', errno ?? 'NetworkError', { maybeDelivered: true }); // connection dropped mid-request
    }
    if (name === 'CredentialsProviderError') return result('account', name, { message: `${ACCOUNT[name]}: ${message}` });
  }

  // 2. Throttling: retry after a back-off and slow the pace; except the daily quota, which
  //    only time (or a quota raise) fixes, so it pauses the mailout.
  if ((name && THROTTLING.has(name)) || status === 429) {
    if (DAILY_QUOTA.test(message)) return result('account', name ?? 'DailyQuotaExceeded');
    const retryAfterMs = retryAfterMsOf(e);
    return result('retry', name ?? 'HTTP_429', { throttled: true, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
  }

  // 3. Account-level SES errors.
  if (name && ACCOUNT[name] !== undefined) return result('account', name);

  // 4. MessageRejected: this message (its recipient or content for this recipient) is refused;
  //    when the rejection names our sender (unverified From in the sandbox), it is the account.
  if (name === 'MessageRejected') {
    if (mentionsSender(message, context) || /configuration set|sending paused|account/i.test(message)) {
      return result('account', name);
    }
    return result('recipient', name);
  }

  // 5. Server faults: retry (SES answered, so it did not accept the message; a 504 from a
  //    gateway may have forwarded it, hence maybeDelivered).
  if ((name && SERVER.has(name)) || (status !== undefined && status >= 500)) {
    return result('retry', name && name !== 'Unknown' ? name : `HTTP_${status}`, { maybeDelivered: status === 504 });
  }

  // 6. Credentials/authorisation by status, whatever the name.
  if (status === 401 || status === 403) return result('account', name && name !== 'Unknown' ? name : `HTTP_${status}`);

  // 7. A bad request: about the recipient's address → that recipient; anything else is the
  //    request shape (headers, subject, sender), identical for every recipient → account.
  if (
    name === 'BadRequestException' ||
    name === 'ValidationException' ||
    name === 'ValidationError' ||
    name === 'InvalidParameterValue' ||
    name === 'InvalidParameterValueException' ||
    status === 400
  ) {
    const code = name && name !== 'Unknown' ? name : 'HTTP_400';
    if (ADDRESS_PROBLEM.test(message) && !mentionsSender(message, context)) return result('recipient', code);
    return result('account', code);
  }

  // 8. Anything else that answered (404 from a wrong endpoint, 413, ...): a deployment problem.
  if (status !== undefined) return result('account', name && name !== 'Unknown' ? name : `HTTP_${status}`);

  // 9. The SDK marked it retryable (clock skew, transient IO): retry.
  if (e.$retryable) return result('retry', name ?? 'Retryable');

  // 10. Unknown, no HTTP answer (a bug, an unexpected throw): stop and let a human look, rather
  //     than failing every recipient or retrying forever.
  return result('account', name ?? 'Unknown');
}

function mentionsSender(message: string, context: ClassifyContext): boolean {
  const from = context.fromEmail?.trim().toLowerCase();
  if (from && message.toLowerCase().includes(from)) return true;
  return /\b(from|sender|source)( email)? address\b|mail from/i.test(message);
}
