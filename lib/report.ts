import type { Config } from './config';
import { csvCell } from './csv';
import type { Ledger, ReportCursor, ReportRow } from './db/ledger';
import { AppError } from './errors';
import { log } from './log';
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

/** Rows per call: Supabase's PostgREST answers at most 1,000 (db-max-rows), so one page is one whole answer. */
export const REPORT_PAGE_ROWS = 1000;

/** Excel reads a CSV in the system's code page (Cyrillic names garbled) unless it starts with a UTF-8 byte order mark. */
const UTF8_BOM = '\uFEFF';

/** One report row as a CSV line: its columns by name, so a column added to the SQL function needs only REPORT_COLUMNS. */
function reportLine(row: ReportRow): string {
  return REPORT_COLUMNS.map((c) => csvCell(row[c])).join(',') + '\r\n';
}

/** The report's rows, page by page: each page starts after the last row of the previous one; an empty page ends it. */
export async function* mailoutReportPages(ledger: Ledger, mailoutId: string, pageRows = REPORT_PAGE_ROWS): AsyncGenerator<ReportRow[]> {
  let after: ReportCursor | null = null;
  for (;;) {
    const page = await ledger.reports.page(mailoutId, { after, limit: pageRows });
    if (page.length === 0) return;
    yield page;
    const last = page[page.length - 1]!;
    after = { status: last.status, subscriberId: last.subscriber_id };
  }
}

export interface ReportCsv {
  mailoutId: string;
  /** The CSV in pieces: the BOM and the header line, then one piece per page, read as they are asked for. */
  chunks: AsyncGenerator<string>;
  /** Recipient rows produced so far. */
  rows(): number;
}

/**
 * Open a mailout's per-recipient CSV (failures first). The first page is read here, so a
 * mailout that was never claimed is a not_found before any byte of an answer is written.
 */
export async function openMailoutReport(ledger: Ledger, mailoutId: string, pageRows = REPORT_PAGE_ROWS): Promise<ReportCsv> {
  const pages = mailoutReportPages(ledger, mailoutId, pageRows);
  const first = await pages.next();
  if (first.done && !(await ledger.exists(mailoutId))) {
    throw new AppError('not_found', `No mailout ${mailoutId.slice(0, 100)} has been sent or claimed.`);
  }
  let rows = 0;
  const piece = (page: ReportRow[]): string => {
    rows += page.length;
    return page.map(reportLine).join('');
  };
  async function* chunks(): AsyncGenerator<string> {
    yield `${UTF8_BOM}${REPORT_COLUMNS.join(',')}\r\n`;
    if (first.done) return;
    yield piece(first.value);
    for await (const page of pages) yield piece(page);
  }
  return { mailoutId, chunks: chunks(), rows: () => rows };
}

/**
 * The CSV as a byte stream that reads the next page only when the reader asks for more, so
 * one page is in memory whatever the mailout's size. A page that fails midway ends the
 * stream with an error (the reader sees a broken transfer, never a short file that looks whole).
 */
export function reportStream(report: ReportCsv): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const next = await report.chunks.next();
          if (next.done) controller.close();
          else controller.enqueue(encoder.encode(next.value));
        } catch (err) {
          log.error('report.stream_failed', { mailout_id: report.mailoutId, rows_sent: report.rows(), error: err });
          controller.error(err);
        }
      },
      async cancel() {
        await report.chunks.return(undefined);
      },
    },
    { highWaterMark: 0 },
  );
}
