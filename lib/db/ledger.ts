import type { Db } from './types';
import type { RenderedMailout } from '../letter';

/** Typed calls of the SQL functions in supabase/migrations, one per atomic state change. */

/** Where a mailout's letter came from: a page of the Mailouts database, or a Markdown file (the CLI, the demo). */
export type LetterOrigin = 'notion' | 'file';

export type MailoutStatus = 'sending' | 'paused' | 'sent' | 'failed';
export type DeliveryStatus = 'queued' | 'sending' | 'sent' | 'failed' | 'skipped' | 'unknown';
/** `no_letter`: no letter was given and none is stored; nothing was claimed (see claim_mailout). */
export type ClaimOutcome = 'claimed' | 'resumed' | 'already_sent' | 'in_progress' | 'no_letter';

export interface ClaimResult {
  outcome: ClaimOutcome;
  mailoutId: string;
  status: MailoutStatus;
  /** Present when this caller holds the lease (claimed or resumed). */
  leaseToken: string | null;
  leaseUntil: Date | null;
  recipients: number;
  queued: number;
  unknown: number;
  lastError: string | null;
  /** The letter stored at the first claim (null when refused, or never stored). */
  content: unknown;
}

export interface BatchRecipient {
  subscriberId: string;
  email: string;
  /** The recipient's own name (subscribers.name), for the greeting. */
  name: string | null;
}

export type SendResult =
  /** sesMessageId: SES's MessageId; null if an answer ever lacked one (never a made-up id). */
  | { subscriberId: string; status: 'sent'; sesMessageId: string | null }
  | { subscriberId: string; status: 'failed'; errorCode: string; errorMessage: string; sesMessageId?: string }
  /** The request may have reached SES (e.g. a timeout after it was written): never retried. */
  | { subscriberId: string; status: 'unknown'; errorCode: string; errorMessage: string; sesMessageId?: string }
  /** Taken but never sent: hand it back to the queue. */
  | { subscriberId: string; status: 'queued' };

export interface MailoutCounts {
  recipients: number;
  queued: number;
  sending: number;
  sent: number;
  failed: number;
  skipped: number;
  unknown: number;
}

export type FinishOutcome = 'complete' | 'paused' | 'failed' | 'released';

export interface FinishResult {
  mailoutId: string;
  status: MailoutStatus;
  recipients: number;
  sent: number;
  failed: number;
  skipped: number;
  unknown: number;
  queued: number;
  sentAt: Date | null;
  lastError: string | null;
}

export interface SubscriberChange {
  subscriberId: string;
  email: string;
  status: 'active' | 'unsubscribed' | 'bounced' | 'complained';
  changed: boolean;
}

function toDate(v: unknown): Date | null {
  if (v === null || v === undefined) return null;
  return v instanceof Date ? v : new Date(String(v));
}

function first<T>(rows: T[], fn: string): T {
  const row = rows[0];
  if (row === undefined) throw new Error(`${fn} returned no row`);
  return row;
}

export async function claimMailout(
  db: Db,
  /** content: the rendered letter; null only to resume a mailout whose letter is stored. */
  args: { mailoutId: string; subject?: string | null; leaseSeconds: number; content: object | null },
): Promise<ClaimResult> {
  const r = first(
    await db.rpc<Record<string, unknown>>('claim_mailout', {
      p_mailout_id: args.mailoutId,
      p_subject: args.subject ?? null,
      p_lease_seconds: args.leaseSeconds,
      p_content: args.content ?? null,
    }),
    'claim_mailout',
  );
  return {
    outcome: r.outcome as ClaimOutcome,
    mailoutId: String(r.mailout_id),
    status: r.status as MailoutStatus,
    leaseToken: (r.lease_token as string | null) ?? null,
    leaseUntil: toDate(r.lease_until),
    recipients: Number(r.recipients),
    queued: Number(r.queued),
    unknown: Number(r.unknown),
    lastError: (r.last_error as string | null) ?? null,
    content: r.content ?? null,
  };
}

export async function claimBatch(
  db: Db,
  args: { mailoutId: string; leaseToken: string; limit: number; leaseSeconds: number },
): Promise<BatchRecipient[]> {
  const rows = await db.rpc<{ subscriber_id: string; email: string; name: string | null }>('claim_batch', {
    p_mailout_id: args.mailoutId,
    p_lease_token: args.leaseToken,
    p_limit: args.limit,
    p_lease_seconds: args.leaseSeconds,
  });
  return rows.map((r) => ({ subscriberId: r.subscriber_id, email: r.email, name: r.name }));
}

export async function recordResults(
  db: Db,
  mailoutId: string,
  leaseToken: string,
  results: SendResult[],
): Promise<{ recorded: number; requeued: number }> {
  if (results.length === 0) return { recorded: 0, requeued: 0 };
  const payload = results.map((r) => ({
    subscriber_id: r.subscriberId,
    status: r.status,
    ses_message_id: r.status === 'queued' ? null : (r.sesMessageId ?? null),
    error_code: r.status === 'failed' || r.status === 'unknown' ? r.errorCode : null,
    error_message: r.status === 'failed' || r.status === 'unknown' ? r.errorMessage : null,
  }));
  const r = first(
    await db.rpc<{ recorded: number; requeued: number }>('record_results', {
      p_mailout_id: mailoutId,
      p_lease_token: leaseToken,
      p_results: payload,
    }),
    'record_results',
  );
  return { recorded: Number(r.recorded), requeued: Number(r.requeued) };
}

export async function mailoutCounts(db: Db, mailoutId: string): Promise<MailoutCounts> {
  const r = first(await db.rpc<Record<string, unknown>>('mailout_counts', { p_mailout_id: mailoutId }), 'mailout_counts');
  return {
    recipients: Number(r.recipients),
    queued: Number(r.queued),
    sending: Number(r.sending),
    sent: Number(r.sent),
    failed: Number(r.failed),
    skipped: Number(r.skipped),
    unknown: Number(r.unknown),
  };
}

export async function finishMailout(
  db: Db,
  args: { mailoutId: string; leaseToken: string; outcome: FinishOutcome; reason?: string | null },
): Promise<FinishResult> {
  const r = first(
    await db.rpc<Record<string, unknown>>('finish_mailout', {
      p_mailout_id: args.mailoutId,
      p_lease_token: args.leaseToken,
      p_outcome: args.outcome,
      p_reason: args.reason ?? null,
    }),
    'finish_mailout',
  );
  return {
    mailoutId: String(r.mailout_id),
    status: r.status as MailoutStatus,
    recipients: Number(r.recipients),
    sent: Number(r.sent),
    failed: Number(r.failed),
    skipped: Number(r.skipped),
    unknown: Number(r.unknown),
    queued: Number(r.queued),
    sentAt: toDate(r.sent_at),
    lastError: (r.last_error as string | null) ?? null,
  };
}

async function changeSubscriber(db: Db, fn: 'unsubscribe' | 'resubscribe', subscriberId: string): Promise<SubscriberChange | null> {
  const rows = await db.rpc<{ subscriber_id: string; email: string; status: SubscriberChange['status']; changed: boolean }>(fn, {
    p_subscriber_id: subscriberId,
  });
  const r = rows[0];
  return r ? { subscriberId: r.subscriber_id, email: r.email, status: r.status, changed: Boolean(r.changed) } : null;
}

/** active -> unsubscribed. Null when no such subscriber. */
export const unsubscribeSubscriber = (db: Db, subscriberId: string) => changeSubscriber(db, 'unsubscribe', subscriberId);
/** unsubscribed -> active only. Null when no such subscriber. */
export const resubscribeSubscriber = (db: Db, subscriberId: string) => changeSubscriber(db, 'resubscribe', subscriberId);

export type BeginSendDecision = 'send' | 'skip' | 'lost';

/**
 * Mark messages as handed to SES now, in one call (one transaction): the decision for each id,
 * in the order given (an id given twice: later copies lost). `skip` (left the list) and
 * `lost` (lease gone) mean: do not send. Marks are made only while the lease is live, and
 * extend it to leaseSeconds from the transaction's start.
 */
export async function beginSends(
  db: Db,
  mailoutId: string,
  leaseToken: string,
  subscriberIds: string[],
  leaseSeconds: number,
): Promise<Map<string, BeginSendDecision>> {
  if (subscriberIds.length === 0) return new Map();
  const rows = await db.rpc<{ subscriber_id: string; decision: BeginSendDecision }>('begin_sends', {
    p_mailout_id: mailoutId,
    p_lease_token: leaseToken,
    p_subscriber_ids: subscriberIds,
    p_lease_seconds: leaseSeconds,
  });
  return new Map(rows.map((r) => [r.subscriber_id, r.decision]));
}

/** Where a claimed mailout stands: its status and lease (get_mailout, a one-row read); null when never claimed. */
export async function mailoutState(db: Db, mailoutId: string): Promise<{ status: MailoutStatus; leaseUntil: Date | null } | null> {
  const r = (await db.rpc<Record<string, unknown>>('get_mailout', { p_mailout_id: mailoutId }))[0];
  return r ? { status: r.status as MailoutStatus, leaseUntil: toDate(r.lease_until) } : null;
}

/** Whether a mailout with this id was ever claimed (get_mailout). */
export async function mailoutExists(db: Db, mailoutId: string): Promise<boolean> {
  return (await mailoutState(db, mailoutId)) !== null;
}

export interface PendingCount {
  claimed: boolean;
  status: string | null;
  /** Recipients still queued (what a dry run or a resume would send). */
  pending: number;
}

/** How many recipients a send of this mailout would reach now (mailout_pending_count); changes nothing. */
export async function mailoutPendingCount(db: Db, mailoutId: string): Promise<PendingCount> {
  const r = (await db.rpc<PendingCount>('mailout_pending_count', { p_mailout_id: mailoutId }))[0];
  return r ? { claimed: Boolean(r.claimed), status: r.status, pending: Number(r.pending) } : { claimed: false, status: null, pending: 0 };
}

/** One result of a test send, as record_test_sends stores it. */
export type TestSendResult =
  | { email: string; status: 'sent'; ses_message_id: string | null }
  | { email: string; status: 'failed'; error_code: string; error_message: string };

/** Keep a test send's results (they never touch the live ledger). */
export async function recordTestSends(db: Db, mailoutId: string, runId: string, results: TestSendResult[]): Promise<void> {
  await db.rpc('record_test_sends', { p_mailout_id: mailoutId, p_run_id: runId, p_results: results });
}

/** `sending` mailouts whose lease expired: the cron hands each to a fresh invocation. */
export async function mailoutsToResume(db: Db, limit = 10): Promise<string[]> {
  const rows = await db.rpc<{ mailout_id: string }>('mailouts_to_resume', { p_limit: limit });
  return rows.map((r) => r.mailout_id);
}

/** The letter stored at a mailout's first claim (its web version), or null before that. */
export async function mailoutLetter(db: Db, mailoutId: string): Promise<{ subject: string | null; content: RenderedMailout | null } | null> {
  return (await db.rpc<{ subject: string | null; content: RenderedMailout | null }>('mailout_letter', { p_mailout_id: mailoutId }))[0] ?? null;
}

/** Where a report page ends: the next page starts after this row. */
export interface ReportCursor {
  status: DeliveryStatus;
  subscriberId: string;
}

/** One row of the report as mailout_report_page gives it (the CSV picks its columns by name). */
export type ReportRow = Record<string, unknown> & { subscriber_id: string; status: DeliveryStatus };

/**
 * Up to `limit` rows of the mailout's per-recipient report after `after` (null: from the
 * start), failures first, then by subscriber id (mailout_report_page). An empty page is the end.
 */
export async function mailoutReportPage(db: Db, mailoutId: string, after: ReportCursor | null, limit: number): Promise<ReportRow[]> {
  return db.rpc<ReportRow>('mailout_report_page', {
    p_mailout_id: mailoutId,
    p_after_status: after?.status ?? null,
    p_after_subscriber: after?.subscriberId ?? null,
    p_limit: limit,
  });
}

/** A round trip to the database (health_check). */
export async function healthCheck(db: Db): Promise<void> {
  await db.rpc('health_check');
}

/** Where a mailout's stored letter came from (mailout_origin); null: no letter is stored, so there is nothing to send. */
export async function mailoutOrigin(db: Db, mailoutId: string): Promise<LetterOrigin | 'unknown' | null> {
  const rows = await db.rpc<{ origin: string | null }>('mailout_origin', { p_mailout_id: mailoutId });
  const origin = rows[0]?.origin ?? null;
  return origin === 'notion' || origin === 'file' || origin === null ? origin : 'unknown';
}

export interface ResendWindow {
  found: boolean;
  status: MailoutStatus | null;
  /** The mailout's last change or SES event. */
  lastActivityAt: Date | null;
  /** When the quiet window ends (ready from then on, if the mailout is sent). */
  quietUntil: Date | null;
  ready: boolean;
  /** Unknown rows SES never reported and never resent. */
  neverReported: number;
}

/** Whether the mailout's never-reported unknown rows may be resent now (resend_window); changes nothing. */
export async function resendWindow(db: Db, mailoutId: string, quietMinutes: number): Promise<ResendWindow> {
  const r = first(await db.rpc<Record<string, unknown>>('resend_window', { p_mailout_id: mailoutId, p_quiet_minutes: quietMinutes }), 'resend_window');
  return {
    found: Boolean(r.found),
    status: (r.status as MailoutStatus | null) ?? null,
    lastActivityAt: toDate(r.last_activity_at),
    quietUntil: toDate(r.quiet_until),
    ready: Boolean(r.ready),
    neverReported: Number(r.never_reported),
  };
}

export interface UnknownRow {
  subscriberId: string;
  email: string;
  errorCode: string | null;
  updatedAt: Date | null;
}

/** The unknown rows SES never reported, every page (unknown_never_reported, keyset on the subscriber id). */
export async function unknownNeverReported(db: Db, mailoutId: string): Promise<UnknownRow[]> {
  const out: UnknownRow[] = [];
  for (let after: string | null = null; ; ) {
    const rows: { subscriber_id: string; email: string; error_code: string | null; updated_at: unknown }[] = await db.rpc(
      'unknown_never_reported',
      { p_mailout_id: mailoutId, p_after: after, p_limit: UNKNOWN_PAGE },
    );
    out.push(...rows.map((r) => ({ subscriberId: r.subscriber_id, email: r.email, errorCode: r.error_code, updatedAt: toDate(r.updated_at) })));
    if (rows.length < UNKNOWN_PAGE) return out;
    after = rows[rows.length - 1]!.subscriber_id;
  }
}
const UNKNOWN_PAGE = 1000;

export type RequeueOutcome = 'requeued' | 'nothing' | 'not_found' | 'not_finished' | 'not_quiet';

/** Queue the never-reported unknown rows once more (requeue_unknown); the mailout becomes paused for the resume. */
export async function requeueUnknown(db: Db, mailoutId: string, quietMinutes: number): Promise<{ outcome: RequeueOutcome; requeued: number }> {
  const r = first(await db.rpc<{ outcome: RequeueOutcome; requeued: number }>('requeue_unknown', { p_mailout_id: mailoutId, p_quiet_minutes: quietMinutes }), 'requeue_unknown');
  return { outcome: r.outcome, requeued: Number(r.requeued) };
}

export interface TripResult {
  /** Each mark's decision, in the order asked (an id given twice: later copies lost). */
  decisions: BeginSendDecision[];
  recorded: number;
  requeued: number;
}

/**
 * One transaction for a group of messages (send_trip): the outcomes given are recorded (only
 * rows still sending under this lease; `queued` hands a row back), then, while the lease is
 * live (extending it to leaseSeconds from the transaction's start), the ids in `marks` are
 * marked as handed to SES (`skip`: left the list; `lost`: lease gone or not this lease's row).
 */
export async function sendTrip(
  db: Db,
  lease: { mailoutId: string; leaseToken: string; leaseSeconds: number },
  marks: string[],
  results: SendResult[],
): Promise<TripResult> {
  const failure = (r: SendResult) => (r.status === 'failed' || r.status === 'unknown' ? r : null);
  const r = first(
    await db.rpc<Record<string, unknown>>('send_trip', {
      p_mailout_id: lease.mailoutId,
      p_lease_token: lease.leaseToken,
      p_lease_seconds: lease.leaseSeconds,
      p_marks: marks,
      p_result_ids: results.map((x) => x.subscriberId),
      p_result_statuses: results.map((x) => x.status),
      p_result_message_ids: results.map((x) => (x.status === 'queued' ? null : (x.sesMessageId ?? null))),
      p_result_error_codes: results.map((x) => failure(x)?.errorCode ?? null),
      p_result_error_messages: results.map((x) => failure(x)?.errorMessage ?? null),
    }),
    'send_trip',
  );
  const marked = new Set(r.marked as string[]);
  const skipped = new Set(r.skipped as string[]);
  const seen = new Set<string>();
  const decisions = marks.map((id): BeginSendDecision => {
    if (seen.has(id)) return 'lost';
    seen.add(id);
    return marked.has(id) ? 'send' : skipped.has(id) ? 'skip' : 'lost';
  });
  return {
    decisions,
    recorded: Number(r.recorded),
    requeued: Number(r.requeued),
  };
}
