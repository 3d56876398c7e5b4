import { createHmac } from 'node:crypto';
import type { Config } from './config';
import type { Db } from './db';
import { AppError } from './errors';
import { secretsEqual } from './http';

/** The per-recipient CSV of a mailout (failures first) and the signed link to it. */

export function reportSignature(secret: string, mailoutId: string): string {
  return createHmac('sha256', secret).update(`report:${mailoutId}`).digest('base64url');
}

export function verifyReportSignature(secret: string, mailoutId: string, sig: string | null): boolean {
  return secretsEqual(sig, reportSignature(secret, mailoutId));
}

export function reportUrl(config: Pick<Config, 'appBaseUrl' | 'reportSecret'>, mailoutId: string): string {
  const q = new URLSearchParams({ mailout_id: mailoutId, sig: reportSignature(config.reportSecret, mailoutId) });
  return `${config.appBaseUrl}/api/report?${q.toString()}`;
}

export const REPORT_COLUMNS = ['email', 'status', 'feedback', 'error_code', 'error_message', 'ses_message_id', 'attempts', 'updated_at'] as const;

function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  const s = value instanceof Date ? value.toISOString() : String(value);
  // Quote where needed; a leading = + - @ is neutralised so a spreadsheet never runs it.
  const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export async function mailoutReportCsv(db: Db, mailoutId: string): Promise<{ csv: string; rows: number }> {
  const rows = await db.rpc<Record<string, unknown>>('mailout_report', { p_mailout_id: mailoutId });
  if (rows.length === 0 && (await db.rpc('get_mailout', { p_mailout_id: mailoutId })).length === 0) {
    throw new AppError('not_found', `No mailout ${mailoutId.slice(0, 100)} has been sent or claimed.`);
  }
  const lines = [REPORT_COLUMNS.join(',')];
  for (const r of rows) lines.push(REPORT_COLUMNS.map((c) => csvField(r[c])).join(','));
  return { csv: lines.join('\r\n') + '\r\n', rows: rows.length };
}
