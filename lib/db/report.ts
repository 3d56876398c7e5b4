import { columns } from './rows';
import type { Db } from './types';

/** Typed calls of the SQL functions that read a mailout's per-recipient rows (the report, the resend's list). */

export const DELIVERY_STATUSES = ['queued', 'sending', 'sent', 'failed', 'skipped', 'unknown'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** Where a report page ends: the next page starts after this row. */
export interface ReportCursor {
  status: DeliveryStatus;
  subscriberId: string;
}

/** One row of the report as mailout_report_page gives it, under its SQL column names (the CSV picks its columns by name). */
export interface ReportRow {
  subscriber_id: string;
  email: string;
  status: DeliveryStatus;
  feedback: string | null;
  error_code: string | null;
  error_message: string | null;
  ses_message_id: string | null;
  attempts: number;
  updated_at: Date | null;
}

/** A row of mailout_report_page. */
export function toReportRow(row: Record<string, unknown>): ReportRow {
  const c = columns('mailout_report_page', row);
  return {
    subscriber_id: c.text('subscriber_id'),
    email: c.text('email'),
    status: c.oneOf('status', DELIVERY_STATUSES),
    feedback: c.textOrNull('feedback'),
    error_code: c.textOrNull('error_code'),
    error_message: c.textOrNull('error_message'),
    ses_message_id: c.textOrNull('ses_message_id'),
    attempts: c.count('attempts'),
    updated_at: c.dateOrNull('updated_at'),
  };
}

export interface UnknownRow {
  subscriberId: string;
  email: string;
  errorCode: string | null;
  updatedAt: Date | null;
}

/** A row of unknown_never_reported. */
export function toUnknownRow(row: Record<string, unknown>): UnknownRow {
  const c = columns('unknown_never_reported', row);
  return { subscriberId: c.text('subscriber_id'), email: c.text('email'), errorCode: c.textOrNull('error_code'), updatedAt: c.dateOrNull('updated_at') };
}

export interface ReportQueries {
  /**
   * Up to `limit` rows of the mailout's per-recipient report after `after` (null: from the
   * start), failures first, then by subscriber id (mailout_report_page). An empty page is the end.
   */
  page(mailoutId: string, opts: { after: ReportCursor | null; limit: number }): Promise<ReportRow[]>;
  /** The unknown rows SES never reported, every page (unknown_never_reported, keyset on the subscriber id). */
  unknownNeverReported(mailoutId: string): Promise<UnknownRow[]>;
}

const UNKNOWN_PAGE = 1000;

export function reportQueries(db: Db): ReportQueries {
  return {
    async page(mailoutId, { after, limit }) {
      const rows = await db.rpc('mailout_report_page', {
        p_mailout_id: mailoutId,
        p_after_status: after?.status ?? null,
        p_after_subscriber: after?.subscriberId ?? null,
        p_limit: limit,
      });
      return rows.map(toReportRow);
    },
    async unknownNeverReported(mailoutId) {
      const out: UnknownRow[] = [];
      for (let after: string | null = null; ; ) {
        const rows: UnknownRow[] = (await db.rpc('unknown_never_reported', { p_mailout_id: mailoutId, p_after: after, p_limit: UNKNOWN_PAGE })).map(toUnknownRow);
        out.push(...rows);
        if (rows.length < UNKNOWN_PAGE) return out;
        after = rows[rows.length - 1]!.subscriberId;
      }
    },
  };
}
