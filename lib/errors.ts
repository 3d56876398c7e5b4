/**
 * The one error type of the executor. Handlers map `code` to an HTTP status; anything that
 * is not an AppError is a fault: logged, and answered without internals.
 */
export type ErrorCode =
  | 'bad_request' // 400: the request is malformed
  | 'unauthorized' // 401: missing or wrong secret / signature
  | 'forbidden' // 403: authenticated but not allowed (topic not allowed, ...)
  | 'not_found' // 404: unknown mailout / page / subscriber
  | 'conflict' // 409: already sent, or in progress
  | 'gone' // 410: a signed link that has expired
  | 'unprocessable' // 422: understood but cannot be done (e.g. images without storage)
  | 'precondition_failed' // 412: SES pre-flight refused (sending disabled, quota)
  | 'config' // 500: the deployment is misconfigured
  | 'lease_lost' // the caller's lease on a mailout is gone
  | 'unfinished' // finish requested while deliveries remain
  | 'database' // 503: database fault (retryable)
  | 'upstream' // 502: an outside service failed
  | 'internal'; // 500

const STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  gone: 410,
  unprocessable: 422,
  precondition_failed: 412,
  config: 500,
  lease_lost: 409,
  unfinished: 409,
  database: 503,
  upstream: 502,
  internal: 500,
};

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'AppError';
    this.code = code;
    this.details = options?.details;
  }

  get status(): number {
    return STATUS[this.code];
  }
}

export function isAppError(err: unknown, code?: ErrorCode): err is AppError {
  return err instanceof AppError && (code === undefined || err.code === code);
}

export function httpStatusOf(err: unknown): number {
  return err instanceof AppError ? err.status : 500;
}

/** What a client may see of an error: the message of an AppError, nothing of a fault. */
export function publicErrorBody(err: unknown): { error: string; message: string; details?: Record<string, unknown> } {
  if (err instanceof AppError && err.status < 500) {
    return { error: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) };
  }
  if (err instanceof AppError && err.code === 'config') {
    return { error: 'config', message: err.message };
  }
  return { error: err instanceof AppError ? err.code : 'internal', message: 'Internal error; see the server log.' };
}
