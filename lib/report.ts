import type { Config } from './config';
import { csvCell } from './csv';
import type { Db } from './db';
import { mailoutExists, mailoutReportRows } from './db/ledger';
import { AppError } from './errors';
import { parseMailoutId } from './mailout-id';
import { linkUrl, sign, verify } from './signed-link';

/**
 * The per-recipient CSV of a mailout (failures first) and the signed link to it.
 *
 * A link carries its expiry: `mailout_id`, `exp` (Unix seconds) and `sig`, an HMAC of both
 * under REPORT_SECRET, so a forwarded link stops exposing the recipient list after
 * REPORT_LINK_DAYS (default 30). A fresh link: the Notion page's Report property is renewed
 * each time the executor writes to the page, and `npm run report -- MAILOUT --link` prints one.
 */

export const DEFAULT_REPORT_LINK_DAYS = 30;

type LinkConfig = Pick<Config, 'appBaseUrl' | 'reportSecret'> & Partial<Pick<Config, 'reportLinkDays'>>;

export function reportUrl(config: LinkConfig, reference: string, now = Date.now()): string {
  const mailoutId = parseMailoutId(reference);
  const days = config.reportLinkDays ?? DEFAULT_REPORT_LINK_DAYS;
  const exp = Math.floor(now / 1000) + days * 86_400;
  return linkUrl(config.appBaseUrl, 'report', { mailout_id: mailoutId, exp: String(exp), sig: sign('report', config.reportSecret, mailoutId, exp) });
}

function howToRenew(mailoutId: string): string {
  return (
    "Get a fresh one from the mailout's Notion page (its Report link is renewed each time the executor updates the page) " +
    `or from a terminal: npm run report -- ${mailoutId.slice(0, 100)} --link`
  );
}

/**
 * Check a report link's query; returns the mailout id. The signature is compared first (in
 * constant time), so the expiry of a link is only told to whoever holds a genuine one.
 */
export function verifyReportLink(config: Pick<Config, 'reportSecret'>, query: URLSearchParams, now = Date.now()): string {
  const raw = query.get('mailout_id');
  if (!raw) throw new AppError('bad_request', 'mailout_id is required.');
  // Links are signed over the canonical id; any spelling of the page finds the same report.
  const mailoutId = parseMailoutId(raw);
  const sig = query.get('sig');
  const exp = query.get('exp');
  // Links made before links expired were signed without `exp`: recognised, to say they are gone.
  if (exp === null && verify('report', config.reportSecret, sig, mailoutId)) {
    throw new AppError('gone', `This report link was made before report links expired and no longer opens. ${howToRenew(mailoutId)}.`);
  }
  if (exp === null || !/^\d{1,12}$/.test(exp) || !verify('report', config.reportSecret, sig, mailoutId, Number(exp))) {
    throw new AppError('unauthorized', 'The report link is not valid: use the link written on the Notion page.');
  }
  if (Number(exp) * 1000 <= now) {
    throw new AppError('gone', `This report link expired on ${new Date(Number(exp) * 1000).toISOString().slice(0, 10)}. ${howToRenew(mailoutId)}.`);
  }
  return mailoutId;
}

export const REPORT_COLUMNS = ['email', 'status', 'feedback', 'error_code', 'error_message', 'ses_message_id', 'attempts', 'updated_at'] as const;

export async function mailoutReportCsv(db: Db, mailoutId: string): Promise<{ csv: string; rows: number }> {
  const rows = await mailoutReportRows(db, mailoutId);
  if (rows.length === 0 && !(await mailoutExists(db, mailoutId))) {
    throw new AppError('not_found', `No mailout ${mailoutId.slice(0, 100)} has been sent or claimed.`);
  }
  const lines = [REPORT_COLUMNS.join(',')];
  for (const r of rows) lines.push(REPORT_COLUMNS.map((c) => csvCell(r[c])).join(','));
  return { csv: lines.join('\r\n') + '\r\n', rows: rows.length };
}
