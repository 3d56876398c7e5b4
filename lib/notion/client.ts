import { Client, APIResponseError, isNotionClientError } from '@notionhq/client';
import type { Config } from '../config';
import { AppError } from '../errors';
import { log } from '../log';

/**
 * The Notion client of the executor: `@notionhq/client` v5 (data sources API), pointed at
 * `NOTION_BASE_URL` when set (local stack, tests), retrying 429 and 5xx as the client does
 * (honouring `retry-after`), and every HTTP request, retries included, paced by one
 * process-wide token bucket at Notion's documented average of 3 requests per second.
 */

// ---------------------------------------------------------------------------------------
// Rate limiting
// ---------------------------------------------------------------------------------------

/** A token bucket: `ratePerSec` tokens a second, bursts up to `burst`; callers queue FIFO. */
export class TokenBucket {
  readonly ratePerSec: number;
  readonly burst: number;
  private tokens: number;
  private last: number;
  private queue: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(options: { ratePerSec: number; burst?: number }) {
    if (!(options.ratePerSec > 0)) throw new Error('TokenBucket: ratePerSec must be positive');
    this.ratePerSec = options.ratePerSec;
    this.burst = Math.max(1, options.burst ?? Math.ceil(options.ratePerSec));
    this.tokens = this.burst;
    this.last = Date.now();
  }

  private refill(): void {
    const now = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSec);
    this.last = now;
  }

  /** Resolves when a token is available (and takes it). */
  take(): Promise<void> {
    return new Promise((resolve) => {
      this.queue.push(resolve);
      this.drain();
    });
  }

  private drain(): void {
    if (this.timer) return;
    this.refill();
    while (this.queue.length > 0 && this.tokens >= 1) {
      this.tokens -= 1;
      this.queue.shift()!();
    }
    if (this.queue.length > 0) {
      const waitMs = Math.max(1, Math.ceil(((1 - this.tokens) / this.ratePerSec) * 1000));
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.drain();
      }, waitMs);
      // A pending wait must not keep a finished CLI process alive.
      this.timer.unref?.();
    }
  }
}

/** The process-wide Notion limiter (~3 requests/s, burst 3), shared by reading and write-back. */
export const notionRateLimiter = new TokenBucket({ ratePerSec: 3, burst: 3 });

/** Run `fn` after taking a token from the limiter (default: the process-wide one). */
export async function withNotionRate<T>(fn: () => Promise<T>, limiter: TokenBucket = notionRateLimiter): Promise<T> {
  await limiter.take();
  return fn();
}

// ---------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------

export interface NotionClientOptions {
  /** Retry policy handed to @notionhq/client (429 / 529 always; 500 / 503 for GET and DELETE). */
  retry?: { maxRetries?: number; initialRetryDelayMs?: number; maxRetryDelayMs?: number } | false;
  timeoutMs?: number;
  /** Called for every HTTP request the client makes (retries included): method, URL. */
  onRequest?: (method: string, url: string) => void;
}

type NotionSettings = Pick<Config['notion'], 'token' | 'baseUrl'>;

/**
 * A Notion client for `config.notion` (a whole `Config`, or just `{ token, baseUrl }`), paced
 * by the process-wide `notionRateLimiter` whoever builds it: tests and benchmarks too, against
 * a fake that refuses what Notion refuses (scripts/fakes/notion.ts), so a limiter faster than
 * Notion allows fails them. Throws AppError('config') without a token.
 */
export function createNotionClient(config: Config | { notion: NotionSettings } | NotionSettings, options: NotionClientOptions = {}): Client {
  const settings: NotionSettings = 'notion' in config ? config.notion : config;
  if (!settings.token) {
    throw new AppError('config', 'Notion is not configured: set NOTION_TOKEN (the integration secret, shared with the Mailouts database).');
  }
  const onRequest = options.onRequest;
  const gatewayRetries = options.retry === false ? 0 : (options.retry?.maxRetries ?? 4);
  const gatewayDelay = options.retry === false ? 0 : (options.retry?.initialRetryDelayMs ?? 1000);
  const pacedFetch = async (url: string, init?: { method?: string; headers?: Record<string, string>; body?: string | FormData }) => {
    const method = String(init?.method ?? 'GET').toUpperCase();
    for (let attempt = 0; ; attempt += 1) {
      await notionRateLimiter.take();
      onRequest?.(method, url);
      const res = await fetch(url, { method, headers: init?.headers, body: init?.body });
      // The client retries 429, 500, 503 and 529 itself; Notion's 502 and 504 (gateway errors)
      // it does not, so reads are retried here, with exponential back-off.
      if ((res.status === 502 || res.status === 504) && method === 'GET' && attempt < gatewayRetries) {
        await res.text().catch(() => undefined);
        await new Promise((r) => setTimeout(r, gatewayDelay * 2 ** attempt * (0.5 + Math.random() / 2)));
        continue;
      }
      return res;
    }
  };
  return new Client({
    auth: settings.token,
    ...(settings.baseUrl ? { baseUrl: settings.baseUrl.replace(/\/+$/, '') } : {}),
    fetch: pacedFetch,
    timeoutMs: options.timeoutMs ?? 30_000,
    retry: options.retry ?? { maxRetries: 4, initialRetryDelayMs: 1000, maxRetryDelayMs: 30_000 },
    // The client's own logger writes to the console; our structured log is enough.
    logger: (level, message, extra) => {
      if (level === 'warn' || level === 'error') log.warn('notion.client', { message, ...(safeExtra(extra) ?? {}) });
    },
  });
}

function safeExtra(extra: unknown): Record<string, unknown> | undefined {
  if (!extra || typeof extra !== 'object') return undefined;
  const e = extra as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of ['code', 'status', 'method', 'path', 'attempt', 'delayMs', 'request_id']) if (k in e) out[k] = e[k];
  return out;
}

// ---------------------------------------------------------------------------------------
// Ids and errors
// ---------------------------------------------------------------------------------------

/** A Notion page id from what a user pastes (id or link): lib/mailout-id is the one parser. */
export { parseMailoutId as parseNotionPageId } from '../mailout-id';

/** Translate a Notion API error into an AppError the handlers can answer with. */
export function notionError(err: unknown, what: string): AppError {
  if (err instanceof AppError) return err;
  if (APIResponseError.isAPIResponseError(err)) {
    switch (err.code) {
      case 'object_not_found':
        return new AppError(
          'not_found',
          `${what} was not found in Notion, or the integration cannot see it: share the page (or its database) with the integration (••• → Connections).`,
          { cause: err, details: { notion: err.code } },
        );
      case 'unauthorized':
        return new AppError('config', 'Notion refused NOTION_TOKEN: check the integration secret.', { cause: err });
      case 'restricted_resource':
        return new AppError('forbidden', `The integration lacks the capability to read ${what}: enable "Read content" for it.`, { cause: err });
      case 'validation_error':
      case 'invalid_request_url':
      case 'invalid_request':
        return new AppError('bad_request', `Notion rejected the request for ${what}: ${err.message}`, { cause: err });
      default:
        return new AppError('upstream', `Notion failed while reading ${what} (${err.status} ${err.code}); try again later.`, {
          cause: err,
          details: { notion: err.code, status: err.status },
        });
    }
  }
  if (isNotionClientError(err)) {
    return new AppError('upstream', `Notion could not be reached while reading ${what} (${err.code}); try again later.`, { cause: err });
  }
  return new AppError('upstream', `Reading ${what} from Notion failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}
