import { classifySesError, SesError, type ClassifyContext, type SesErrorInfo } from './errors';

export interface RetryOptions {
  /** Attempts in all, the first included (default 5). */
  maxAttempts?: number;
  /** The back-off cap before jitter for the first retry (default 200 ms); doubles each retry. */
  baseDelayMs?: number;
  /** The largest back-off (default 10 s). */
  maxDelayMs?: number;
  /**
   * Retry failures that may have reached SES (timeouts and resets after the request was written)?
   * Default false, strict at-most-once: such a failure is thrown at once, for the caller to
   * record as `unknown`. Only a call that is safe to repeat (a read: GetAccount) says true.
   */
  retryMaybeDelivered?: boolean;
  sleep?: (ms: number) => Promise<void>;
  /** [0, 1); Math.random by default. */
  random?: () => number;
  /** Called before each back-off: the place to slow the pacer on throttling. */
  onRetry?: (event: { attempt: number; delayMs: number; error: SesErrorInfo }) => void;
  /** For classification (a rejection naming the sender is account-level). */
  classify?: ClassifyContext;
}

export const DEFAULT_RETRY = { maxAttempts: 5, baseDelayMs: 200, maxDelayMs: 10_000 } as const;

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Full-jitter exponential back-off: uniform in [0, min(max, base × 2^(retry−1))]. */
export function backoffDelay(retry: number, baseDelayMs: number, maxDelayMs: number, random: () => number): number {
  const cap = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * cap);
}

/**
 * Run `send`, retrying only failures classified `retry`, with exponential back-off and full
 * jitter (a `Retry-After` from SES is a floor). Returns the result, or throws an `SesError`
 * carrying the last classification and the number of attempts made.
 */
export async function sendWithRetry<T>(send: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const maxAttempts = Math.max(1, Math.floor(options.maxAttempts ?? DEFAULT_RETRY.maxAttempts));
  const baseDelayMs = options.baseDelayMs ?? DEFAULT_RETRY.baseDelayMs;
  const maxDelayMs = options.maxDelayMs ?? DEFAULT_RETRY.maxDelayMs;
  const sleep = options.sleep ?? realSleep;
  const random = options.random ?? Math.random;
  const retryMaybeDelivered = options.retryMaybeDelivered ?? false;

  for (let attempt = 1; ; attempt += 1) {
    try {
      return await send();
    } catch (err) {
      const info = classifySesError(err, options.classify);
      const retryable = info.kind === 'retry' && (retryMaybeDelivered || !info.maybeDelivered);
      if (!retryable || attempt >= maxAttempts) {
        throw new SesError(info, { cause: err, attempts: attempt });
      }
      const delayMs = Math.min(maxDelayMs, Math.max(backoffDelay(attempt, baseDelayMs, maxDelayMs, random), info.retryAfterMs ?? 0));
      options.onRetry?.({ attempt, delayMs, error: info });
      await sleep(delayMs);
    }
  }
}
