import { z } from 'zod';
import { checkEmail } from '../email';

/**
 * The kinds of variable. Each parser sees a value already trimmed, or undefined when the
 * variable is unset or blank (`unsetIfBlank`, env.ts): a default or "is not set" follows.
 */

export const GENERATE = 'generate one with: openssl rand -hex 32';

export const optionalString = z.string().optional();

export const secret = (min: number) => z.string().min(min, `must be at least ${min} characters`);

export const optionalSecret = (min: number, tooShort = `must be at least ${min} characters (${GENERATE})`) => z.string().min(min, tooShort).optional();

const wholeNumberIn = (min: number, max: number) =>
  z.number().int(`must be a whole number`).min(min, `must be at least ${min}`).max(max, `must be at most ${max}`);

/** A whole number in [min, max], `def` when unset. */
export const intIn = (def: number, min: number, max: number) => z.preprocess((v) => (v === undefined ? def : Number(v)), wholeNumberIn(min, max));

/** A whole number in [min, max], or undefined when unset. */
export const optionalIntIn = (min: number, max: number) =>
  z.preprocess((v) => (v === undefined ? undefined : Number(v)), wholeNumberIn(min, max).optional());

/** A number in [min, max], `def` when unset. */
export const numIn = (def: number, min: number, max: number) =>
  z.preprocess((v) => (v === undefined ? def : Number(v)), z.number().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

export const httpUrl = z
  .string()
  .url('must be a URL such as https://example.com')
  .refine((u) => /^https?:\/\//.test(u), 'must start with http:// or https://')
  .transform((u) => u.replace(/\/+$/, ''));

export const optionalHttpUrl = httpUrl.optional();

/** An address in its canonical form (lib/email.ts), or an issue saying why it is not one. */
export const canonicalEmail = (refusal: (raw: string, reason: string) => string) =>
  z.string().transform((s, ctx) => {
    const c = checkEmail(s);
    if (!c.ok) ctx.addIssue({ code: 'custom', message: refusal(s, c.reason) });
    return c.ok ? c.email : s;
  });

/** Items separated by commas or spaces; unset is the empty list. */
export const list = z.preprocess(
  (v) => (typeof v === 'string' ? v.split(/[,\s]+/).filter(Boolean) : (v ?? [])),
  z.array(z.string()),
);

/** Each address in its canonical form (lib/email.ts), each once, case-insensitively. */
export const emailList = list.pipe(
  z
    .array(canonicalEmail((s, reason) => `must be a comma-separated list of email addresses (${s}: ${reason})`))
    .transform((xs) => xs.filter((x, i) => xs.findIndex((y) => y.toLowerCase() === x.toLowerCase()) === i)),
);
