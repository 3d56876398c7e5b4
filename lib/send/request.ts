import { z } from 'zod';
import type { Config } from '../config';
import { AppError } from '../errors';
import { bearerToken, secretsEqual } from '../http';
import { mailoutIdOfNotionWebhook, parseMailoutId } from '../mailout-id';

/**
 * What a caller of POST /api/send-mailout asks for. Three shapes arrive:
 *  - the spec's body `{"mailout_id", "auth_token", "mode"?, "dry_run"?}`;
 *  - a Notion automation webhook `{source: {type: "automation", automation_id, ...},
 *    data: {object: "page", id, properties}}`, the secret in `Authorization: Bearer` or
 *    `X-Executor-Secret`;
 *  - the executor's own continuation `{"mailout_id", "continuation": true}` (Bearer secret).
 */
export interface SendRequest {
  /** Canonical (lib/mailout-id): one page is one mailout, whatever spelling arrived. */
  mailoutId: string;
  /** The caller is a Notion automation: a duplicate is answered 200, not 409 (Notion pauses failing webhooks). */
  fromNotion: boolean;
  /** `test` from the body; the page's Test checkbox may also ask for it. */
  mode?: 'live' | 'test';
  dryRun: boolean;
  continuation: boolean;
}

const directBody = z.object({
  // Required here; what it may be is lib/mailout-id's to say (it lists the accepted forms).
  mailout_id: z.unknown().refine((v) => v !== undefined && v !== null),
  auth_token: z.string().optional(),
  mode: z.enum(['live', 'test']).optional(),
  dry_run: z.boolean().optional(),
  continuation: z.boolean().optional(),
});

const notionBody = z.object({
  source: z.object({ type: z.string().optional(), automation_id: z.string().optional() }).passthrough(),
  data: z.object({ object: z.literal('page'), id: z.unknown().optional(), url: z.unknown().optional() }).passthrough(),
});

function presentedSecret(request: Request, bodyToken: string | undefined): string | null {
  return bearerToken(request) ?? request.headers.get('x-executor-secret') ?? bodyToken ?? null;
}

/** Constant-time check of the secret from the headers or the body's auth_token; fails closed. */
export function authenticateSendRequest(request: Request, bodyToken: string | undefined, config: Pick<Config, 'executorSecret'>): void {
  const token = presentedSecret(request, bodyToken);
  if (!config.executorSecret) throw new AppError('config', 'EXECUTOR_SHARED_SECRET is not set: every call is refused.');
  if (!secretsEqual(token, config.executorSecret)) {
    throw new AppError('unauthorized', token ? 'The secret is wrong.' : 'No secret: send Authorization: Bearer <EXECUTOR_SHARED_SECRET>, or auth_token in the body.');
  }
}

/** Parse and authenticate. The secret is checked before anything about the body is revealed. */
export function parseSendRequest(body: unknown, request: Request, config: Pick<Config, 'executorSecret'>): SendRequest {
  const obj = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  authenticateSendRequest(request, typeof obj.auth_token === 'string' ? obj.auth_token : undefined, config);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new AppError('bad_request', 'The body must be a JSON object with mailout_id, or a Notion automation webhook.');
  }

  if ('data' in obj && 'source' in obj) {
    const parsed = notionBody.safeParse(obj);
    if (!parsed.success) {
      throw new AppError('bad_request', `Not a Notion page webhook: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
    }
    return { mailoutId: mailoutIdOfNotionWebhook(parsed.data.data), fromNotion: true, dryRun: false, continuation: false };
  }

  const parsed = directBody.safeParse(obj);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join('.') || 'body';
    const missing = (issue.code === 'invalid_type' || issue.code === 'custom') && (obj[field] === undefined || obj[field] === null);
    throw new AppError('bad_request', missing ? `${field} is required.` : `${field}: ${issue.message}`);
  }
  return {
    mailoutId: parseMailoutId(parsed.data.mailout_id),
    fromNotion: false,
    mode: parsed.data.mode,
    dryRun: parsed.data.dry_run ?? false,
    continuation: parsed.data.continuation ?? false,
  };
}
