import { timingSafeEqual, createHash } from 'node:crypto';
import { AppError, httpStatusOf, publicErrorBody } from './errors';
import { log } from './log';

/**
 * Helpers for the Web-standard handlers in api/ (`export async function POST(request)`),
 * which Vercel's Node runtime serves and the local stack serves the same way.
 */

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers },
  });
}

/** Map an error to a response: AppErrors by code, anything else logged and answered as 500. */
export function errorResponse(err: unknown, context: Record<string, unknown> = {}): Response {
  const status = httpStatusOf(err);
  if (status >= 500) log.error('request.failed', { ...context, status, error: err });
  else log.info('request.refused', { ...context, status, error: err instanceof AppError ? err.code : 'unknown' });
  return json(status, publicErrorBody(err));
}

/** Wrap a handler so that a thrown error becomes the right status, never a stack trace. */
export function handle(name: string, fn: (request: Request) => Promise<Response>): (request: Request) => Promise<Response> {
  return async (request: Request) => {
    try {
      return await fn(request);
    } catch (err) {
      return errorResponse(err, { handler: name, method: request.method });
    }
  };
}

export function methodNotAllowed(allowed: string[]): Response {
  return json(405, { error: 'method_not_allowed', message: `Use ${allowed.join(' or ')}.` }, { allow: allowed.join(', ') });
}

/** Constant-time comparison of a presented secret with the configured one (hashes equalise lengths). */
export function secretsEqual(presented: string | null | undefined, expected: string | null | undefined): boolean {
  if (!presented || !expected) return false;
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** The bearer token of an Authorization header, if any. */
export function bearerToken(request: Request): string | null {
  const h = request.headers.get('authorization');
  if (!h) return null;
  const m = /^Bearer\s+(.+)$/i.exec(h.trim());
  return m ? m[1]!.trim() : null;
}

/** Read a JSON body; a malformed one is a 400 with the reason. */
export async function readJson(request: Request, maxBytes = 1_000_000): Promise<unknown> {
  const text = await readText(request, maxBytes);
  if (text.trim() === '') throw new AppError('bad_request', 'The request body is empty; send a JSON object.');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new AppError('bad_request', `The request body is not valid JSON: ${(err as Error).message}`);
  }
}

export async function readText(request: Request, maxBytes = 1_000_000): Promise<string> {
  const text = await request.text();
  if (Buffer.byteLength(text, 'utf8') > maxBytes) throw new AppError('bad_request', `The request body is larger than ${maxBytes} bytes.`);
  return text;
}
