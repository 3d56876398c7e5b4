/**
 * One readiness check's answer: ✔ ok, ⚠ warn (shown, never refuses), ✖ fail (refuses a live
 * send). `fix` says what to do, and is empty only when there is nothing to do.
 */
export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface Check {
  status: CheckStatus;
  name: string;
  detail: string;
  fix: string;
}

export const ok = (name: string, detail: string): Check => ({ status: 'ok', name, detail, fix: '' });
export const warn = (name: string, detail: string, fix: string): Check => ({ status: 'warn', name, detail, fix });
export const fail = (name: string, detail: string, fix: string): Check => ({ status: 'fail', name, detail, fix });

/** What an AWS or Notion error says, for a check's detail (never a secret: the SDKs' messages hold none). */
export function errorText(err: unknown): string {
  const e = err as { name?: string; code?: string; message?: string };
  const name = e?.name && e.name !== 'Error' ? `${e.name}: ` : e?.code ? `${e.code}: ` : '';
  return `${name}${e?.message ?? String(err)}`;
}

/** An HTTP 404 from an AWS SDK call or Notion: the thing asked for does not exist (or is not shared). */
export function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; code?: string; status?: number; $metadata?: { httpStatusCode?: number } };
  return e?.$metadata?.httpStatusCode === 404 || e?.status === 404 || e?.name === 'NotFoundException' || e?.code === 'object_not_found';
}

/** "name: detail → fix", for a refusal's message, a warning list and the doctor. */
export function describeCheck(check: Check): string {
  return `${check.name}: ${check.detail}${check.fix ? ` → ${check.fix}` : ''}`;
}
