import type { Db } from '../db/types';
import { AppError } from '../errors';
import type { SnsEnvelope } from './sns';

/**
 * Verified SNS messages that Postgres can never store as an SES event (retrying would fail
 * the same way for days): recognised before or by the database, and kept in
 * `sns_dead_letters` (supabase/migrations/20261201143713_sns_dead_letters.sql).
 */

/** Deeper than any SES payload (about 6 levels); jsonb and JSON.stringify both have limits. */
export const MAX_PAYLOAD_DEPTH = 64;

function depthOf(value: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d > max) max = d;
    if (max > MAX_PAYLOAD_DEPTH) return max;
    for (const child of Object.values(v as object)) stack.push([child, d + 1]);
  }
  return max;
}

/** Why this payload cannot be stored as jsonb, or null when it can. */
export function whyUnstorable(payload: unknown): string | null {
  if (depthOf(payload) > MAX_PAYLOAD_DEPTH) return `the message is nested deeper than ${MAX_PAYLOAD_DEPTH} levels`;
  let text: string;
  try {
    text = JSON.stringify(payload);
  } catch {
    return 'the message cannot be serialised';
  }
  if (text.includes('\\u0000')) return 'the message contains \\u0000, which Postgres refuses in jsonb and text';
  return null;
}

/** A refusal of the data itself (SQLSTATE class 22 data exception, 54 program limit), not a fault that a retry cures. */
export function isDataError(err: unknown): boolean {
  if (!(err instanceof AppError)) return err instanceof RangeError;
  const sqlstate = err.details?.sqlstate;
  return typeof sqlstate === 'string' && (sqlstate.startsWith('22') || sqlstate.startsWith('54'));
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Text Postgres accepts: NUL and lone surrogates written as their escapes. */
export function storableText(s: string): string {
  return s
    .replace(/\u0000/g, '\\u0000')
    .replace(LONE_SURROGATE, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
}

export async function keepSnsDeadLetter(
  db: Db,
  args: { envelope: SnsEnvelope; bodyText: string; reason: string },
): Promise<{ kept: boolean; deliveries: number }> {
  const rows = await db.rpc<{ kept: boolean; deliveries: number }>('keep_sns_dead_letter', {
    p_sns_message_id: storableText(args.envelope.MessageId),
    p_topic_arn: storableText(args.envelope.TopicArn),
    p_reason: storableText(args.reason),
    p_body: storableText(args.bodyText),
  });
  const r = rows[0];
  if (!r) throw new AppError('database', 'keep_sns_dead_letter returned no row');
  return { kept: Boolean(r.kept), deliveries: Number(r.deliveries) };
}
