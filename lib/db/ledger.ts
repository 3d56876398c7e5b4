import type { Db } from './types';
import type { Recipient, RenderedMailout } from '../letter/types';
import { columns, onlyRow } from './rows';
import { reportQueries, type ReportQueries } from './report';
import { subscriberQueries, type SubscriberQueries } from './subscribers';

/**
 * Typed calls of the SQL functions in supabase/migrations, one per atomic state change, as one
 * object built once from a `Db` (`createLedger`). One argument style throughout: what a call is
 * about (a mailout id, the ids or results it acts on) comes first, any further input in one
 * object of named options. The calls of one run go through `ledger.run(lease)`, which holds
 * the lease: none of them takes it as an argument. Every answer row goes through its mapper
 * (`toClaimResult`, …), which checks and converts each column (lib/db/rows.ts).
 */

export type { DeliveryStatus, ReportCursor, ReportRow, UnknownRow } from './report';
export type { SubscriberChange } from './subscribers';

/** Where a mailout's letter came from: a page of the Mailouts database, or a Markdown file (the CLI, the demo). */
export type LetterOrigin = 'notion' | 'file';

export const MAILOUT_STATUSES = ['sending', 'paused', 'sent', 'failed'] as const;
export type MailoutStatus = (typeof MAILOUT_STATUSES)[number];
/** `no_letter`: no letter was given and none is stored; nothing was claimed (see claim_mailout). */
export const CLAIM_OUTCOMES = ['claimed', 'resumed', 'already_sent', 'in_progress', 'no_letter'] as const;
export type ClaimOutcome = (typeof CLAIM_OUTCOMES)[number];

export interface ClaimResult {
  outcome: ClaimOutcome;
  mailoutId: string;
  /** Null only for `no_letter` on an id never claimed: there is no mailout. */
  status: MailoutStatus | null;
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

/** A row of claim_mailout. */
export function toClaimResult(row: Record<string, unknown>): ClaimResult {
  const c = columns('claim_mailout', row);
  return {
    outcome: c.oneOf('outcome', CLAIM_OUTCOMES),
    mailoutId: c.text('mailout_id'),
    status: c.oneOfOrNull('status', MAILOUT_STATUSES),
    leaseToken: c.textOrNull('lease_token'),
    leaseUntil: c.dateOrNull('lease_until'),
    recipients: c.count('recipients'),
    queued: c.count('queued'),
    unknown: c.count('unknown'),
    lastError: c.textOrNull('last_error'),
    content: c.json('content'),
  };
}

/** A recipient of a live send: every delivery row has its subscriber. */
export type BatchRecipient = Required<Recipient>;

/** A row of claim_batch. */
export function toBatchRecipient(row: Record<string, unknown>): BatchRecipient {
  const c = columns('claim_batch', row);
  return { subscriberId: c.text('subscriber_id'), email: c.text('email'), name: c.textOrNull('name') };
}

export type SendResult =
  /** sesMessageId: SES's MessageId; null if an answer ever lacked one (never a made-up id). */
  | { subscriberId: string; status: 'sent'; sesMessageId: string | null }
  | { subscriberId: string; status: 'failed'; errorCode: string; errorMessage: string; sesMessageId?: string }
  /** The request may have reached SES (e.g. a timeout after it was written): never retried. */
  | { subscriberId: string; status: 'unknown'; errorCode: string; errorMessage: string; sesMessageId?: string }
  /** Taken but never sent: hand it back to the queue. */
  | { subscriberId: string; status: 'queued' };

export interface RecordedResults {
  recorded: number;
  requeued: number;
}

/** A row of record_results. */
export function toRecordedResults(row: Record<string, unknown>): RecordedResults {
  const c = columns('record_results', row);
  return { recorded: c.count('recorded'), requeued: c.count('requeued') };
}

export interface MailoutCounts {
  recipients: number;
  queued: number;
  sending: number;
  sent: number;
  failed: number;
  skipped: number;
  unknown: number;
}

/** A row of mailout_counts. */
export function toMailoutCounts(row: Record<string, unknown>): MailoutCounts {
  const c = columns('mailout_counts', row);
  return {
    recipients: c.count('recipients'),
    queued: c.count('queued'),
    sending: c.count('sending'),
    sent: c.count('sent'),
    failed: c.count('failed'),
    skipped: c.count('skipped'),
    unknown: c.count('unknown'),
  };
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

/** A row of finish_mailout. */
export function toFinishResult(row: Record<string, unknown>): FinishResult {
  const c = columns('finish_mailout', row);
  return {
    mailoutId: c.text('mailout_id'),
    status: c.oneOf('status', MAILOUT_STATUSES),
    recipients: c.count('recipients'),
    sent: c.count('sent'),
    failed: c.count('failed'),
    skipped: c.count('skipped'),
    unknown: c.count('unknown'),
    queued: c.count('queued'),
    sentAt: c.dateOrNull('sent_at'),
    lastError: c.textOrNull('last_error'),
  };
}

export const BEGIN_SEND_DECISIONS = ['send', 'skip', 'lost'] as const;
export type BeginSendDecision = (typeof BEGIN_SEND_DECISIONS)[number];

/** A row of begin_sends. */
export function toBeginDecision(row: Record<string, unknown>): [subscriberId: string, decision: BeginSendDecision] {
  const c = columns('begin_sends', row);
  return [c.text('subscriber_id'), c.oneOf('decision', BEGIN_SEND_DECISIONS)];
}

export interface MailoutState {
  status: MailoutStatus;
  leaseUntil: Date | null;
}

/** A row of get_mailout (the columns the callers read). */
export function toMailoutState(row: Record<string, unknown>): MailoutState {
  const c = columns('get_mailout', row);
  return { status: c.oneOf('status', MAILOUT_STATUSES), leaseUntil: c.dateOrNull('lease_until') };
}

export interface PendingCount {
  claimed: boolean;
  status: MailoutStatus | null;
  /** Recipients still queued (what a dry run or a resume would send). */
  pending: number;
}

/** A row of mailout_pending_count. */
export function toPendingCount(row: Record<string, unknown>): PendingCount {
  const c = columns('mailout_pending_count', row);
  return { claimed: c.flag('claimed'), status: c.oneOfOrNull('status', MAILOUT_STATUSES), pending: c.count('pending') };
}

/** One result of a test send, as record_test_sends stores it. */
export type TestSendResult =
  | { email: string; status: 'sent'; ses_message_id: string | null }
  | { email: string; status: 'failed'; error_code: string; error_message: string };

/** A row of mailouts_to_resume: the mailout's id. */
export function toResumeId(row: Record<string, unknown>): string {
  return columns('mailouts_to_resume', row).text('mailout_id');
}

export interface StoredLetter {
  subject: string | null;
  content: RenderedMailout | null;
}

/** A row of mailout_letter; the content is the letter claim_mailout stored. */
export function toStoredLetter(row: Record<string, unknown>): StoredLetter {
  const c = columns('mailout_letter', row);
  return { subject: c.textOrNull('subject'), content: c.json('content') as RenderedMailout | null };
}

/** A row of mailout_origin: 'unknown' for an origin this code does not know. */
export function toLetterOrigin(row: Record<string, unknown>): LetterOrigin | 'unknown' | null {
  const origin = columns('mailout_origin', row).textOrNull('origin');
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

/** A row of resend_window. */
export function toResendWindow(row: Record<string, unknown>): ResendWindow {
  const c = columns('resend_window', row);
  return {
    found: c.flag('found'),
    status: c.oneOfOrNull('status', MAILOUT_STATUSES),
    lastActivityAt: c.dateOrNull('last_activity_at'),
    quietUntil: c.dateOrNull('quiet_until'),
    ready: c.flag('ready'),
    neverReported: c.count('never_reported'),
  };
}

export const REQUEUE_OUTCOMES = ['requeued', 'nothing', 'not_found', 'not_finished', 'not_quiet'] as const;
export type RequeueOutcome = (typeof REQUEUE_OUTCOMES)[number];

export interface RequeueResult {
  outcome: RequeueOutcome;
  requeued: number;
}

/** A row of requeue_unknown. */
export function toRequeueResult(row: Record<string, unknown>): RequeueResult {
  const c = columns('requeue_unknown', row);
  return { outcome: c.oneOf('outcome', REQUEUE_OUTCOMES), requeued: c.count('requeued') };
}

/** The lease a claim handed to this run: every call of the run is made under it. */
export interface Lease {
  mailoutId: string;
  leaseToken: string;
  leaseSeconds: number;
}

/** The ledger's calls of one run, bound to its mailout and lease. */
export interface LeaseRun {
  readonly lease: Lease;
  /** The next rows to send (claim_batch), at most `limit`; extends the lease. */
  claimBatch(opts: { limit: number }): Promise<BatchRecipient[]>;
  /**
   * Mark messages as handed to SES now, in one call (one transaction): the decision for each id,
   * in the order given (an id given twice: later copies lost). `skip` (left the list) and
   * `lost` (lease gone) mean: do not send. Marks are made only while the lease is live, and
   * extend it to leaseSeconds from the transaction's start.
   */
  begin(subscriberIds: string[]): Promise<Map<string, BeginSendDecision>>;
  /** Record SES's answers (record_results). */
  record(results: SendResult[]): Promise<RecordedResults>;
  /**
   * One transaction for a group of messages (send_trip): the outcomes given are recorded (only
   * rows still sending under this lease; `queued` hands a row back), then, while the lease is
   * live (extending it to leaseSeconds from the transaction's start), the ids in `marks` are
   * marked as handed to SES (`skip`: left the list; `lost`: lease gone or not this lease's row).
   */
  trip(marks: string[], results: SendResult[]): Promise<TripResult>;
  /** The mailout's counts (mailout_counts). */
  counts(): Promise<MailoutCounts>;
  /** End this run (finish_mailout). */
  finish(opts: { outcome: FinishOutcome; reason?: string | null }): Promise<FinishResult>;
}

export interface Ledger {
  /**
   * Claim a mailout, or resume it (claim_mailout). `content`: the rendered letter; null only to
   * resume a mailout whose letter is stored.
   */
  claim(mailoutId: string, opts: { subject?: string | null; leaseSeconds: number; content: object | null }): Promise<ClaimResult>;
  /** The calls of the run that holds this lease. */
  run(lease: Lease): LeaseRun;
  /** Where a claimed mailout stands: its status and lease (get_mailout, a one-row read); null when never claimed. */
  state(mailoutId: string): Promise<MailoutState | null>;
  /** Whether a mailout with this id was ever claimed (get_mailout). */
  exists(mailoutId: string): Promise<boolean>;
  /** The letter stored at a mailout's first claim (its web version), or null before that. */
  letter(mailoutId: string): Promise<StoredLetter | null>;
  /** Where a mailout's stored letter came from (mailout_origin); null: no letter is stored, so there is nothing to send. */
  origin(mailoutId: string): Promise<LetterOrigin | 'unknown' | null>;
  counts(mailoutId: string): Promise<MailoutCounts>;
  /** How many recipients a send of this mailout would reach now (mailout_pending_count); changes nothing. */
  pendingCount(mailoutId: string): Promise<PendingCount>;
  /** `sending` mailouts whose lease expired: the cron hands each to a fresh invocation. */
  toResume(opts?: { limit?: number }): Promise<string[]>;
  /** Whether the mailout's never-reported unknown rows may be resent now (resend_window); changes nothing. */
  resendWindow(mailoutId: string, opts: { quietMinutes: number }): Promise<ResendWindow>;
  /** Queue the never-reported unknown rows once more (requeue_unknown); the mailout becomes paused for the resume. */
  requeueUnknown(mailoutId: string, opts: { quietMinutes: number }): Promise<RequeueResult>;
  /** Keep a test send's results (they never touch the live ledger). */
  recordTestSends(mailoutId: string, opts: { runId: string; results: TestSendResult[] }): Promise<void>;
  /** A round trip to the database (health_check). */
  health(): Promise<void>;
  readonly subscribers: SubscriberQueries;
  readonly reports: ReportQueries;
}

export function createLedger(db: Db): Ledger {
  const counts = async (mailoutId: string) => toMailoutCounts(onlyRow(await db.rpc('mailout_counts', { p_mailout_id: mailoutId }), 'mailout_counts'));
  const state = async (mailoutId: string) => {
    const row = (await db.rpc('get_mailout', { p_mailout_id: mailoutId }))[0];
    return row ? toMailoutState(row) : null;
  };
  return {
    async claim(mailoutId, { subject = null, leaseSeconds, content }) {
      const rows = await db.rpc('claim_mailout', { p_mailout_id: mailoutId, p_subject: subject, p_lease_seconds: leaseSeconds, p_content: content });
      return toClaimResult(onlyRow(rows, 'claim_mailout'));
    },
    run: (lease) => leaseRun(db, lease, counts),
    state,
    exists: async (mailoutId) => (await state(mailoutId)) !== null,
    async letter(mailoutId) {
      const row = (await db.rpc('mailout_letter', { p_mailout_id: mailoutId }))[0];
      return row ? toStoredLetter(row) : null;
    },
    async origin(mailoutId) {
      const row = (await db.rpc('mailout_origin', { p_mailout_id: mailoutId }))[0];
      return row ? toLetterOrigin(row) : null;
    },
    counts,
    async pendingCount(mailoutId) {
      const row = (await db.rpc('mailout_pending_count', { p_mailout_id: mailoutId }))[0];
      return row ? toPendingCount(row) : { claimed: false, status: null, pending: 0 };
    },
    async toResume({ limit = 10 } = {}) {
      return (await db.rpc('mailouts_to_resume', { p_limit: limit })).map(toResumeId);
    },
    async resendWindow(mailoutId, { quietMinutes }) {
      return toResendWindow(onlyRow(await db.rpc('resend_window', { p_mailout_id: mailoutId, p_quiet_minutes: quietMinutes }), 'resend_window'));
    },
    async requeueUnknown(mailoutId, { quietMinutes }) {
      return toRequeueResult(onlyRow(await db.rpc('requeue_unknown', { p_mailout_id: mailoutId, p_quiet_minutes: quietMinutes }), 'requeue_unknown'));
    },
    async recordTestSends(mailoutId, { runId, results }) {
      await db.rpc('record_test_sends', { p_mailout_id: mailoutId, p_run_id: runId, p_results: results });
    },
    async health() {
      await db.rpc('health_check');
    },
    subscribers: subscriberQueries(db),
    reports: reportQueries(db),
  };
}

function leaseRun(db: Db, lease: Lease, counts: (mailoutId: string) => Promise<MailoutCounts>): LeaseRun {
  const { mailoutId, leaseToken, leaseSeconds } = lease;
  const bound = { p_mailout_id: mailoutId, p_lease_token: leaseToken };
  return {
    lease,
    async claimBatch({ limit }) {
      return (await db.rpc('claim_batch', { ...bound, p_limit: limit, p_lease_seconds: leaseSeconds })).map(toBatchRecipient);
    },
    async begin(subscriberIds) {
      if (subscriberIds.length === 0) return new Map();
      const rows = await db.rpc('begin_sends', { ...bound, p_subscriber_ids: subscriberIds, p_lease_seconds: leaseSeconds });
      return new Map(rows.map(toBeginDecision));
    },
    async record(results) {
      if (results.length === 0) return { recorded: 0, requeued: 0 };
      return toRecordedResults(onlyRow(await db.rpc('record_results', { ...bound, p_results: results.map(resultPayload) }), 'record_results'));
    },
    async trip(marks, results) {
      const failure = (r: SendResult) => (r.status === 'failed' || r.status === 'unknown' ? r : null);
      const answer = toTripAnswer(
        onlyRow(
          await db.rpc('send_trip', {
            ...bound,
            p_lease_seconds: leaseSeconds,
            p_marks: marks,
            p_result_ids: results.map((x) => x.subscriberId),
            p_result_statuses: results.map((x) => x.status),
            p_result_message_ids: results.map((x) => (x.status === 'queued' ? null : (x.sesMessageId ?? null))),
            p_result_error_codes: results.map((x) => failure(x)?.errorCode ?? null),
            p_result_error_messages: results.map((x) => failure(x)?.errorMessage ?? null),
          }),
          'send_trip',
        ),
      );
      return { decisions: tripDecisions(marks, answer), recorded: answer.recorded, requeued: answer.requeued };
    },
    counts: () => counts(mailoutId),
    async finish({ outcome, reason = null }) {
      return toFinishResult(onlyRow(await db.rpc('finish_mailout', { ...bound, p_outcome: outcome, p_reason: reason }), 'finish_mailout'));
    },
  };
}

/** One result as record_results reads it. */
function resultPayload(r: SendResult) {
  const error = r.status === 'failed' || r.status === 'unknown';
  return {
    subscriber_id: r.subscriberId,
    status: r.status,
    ses_message_id: r.status === 'queued' ? null : (r.sesMessageId ?? null),
    error_code: error ? r.errorCode : null,
    error_message: error ? r.errorMessage : null,
  };
}

export interface TripResult {
  /** Each mark's decision, in the order asked (an id given twice: later copies lost). */
  decisions: BeginSendDecision[];
  recorded: number;
  requeued: number;
}

/** A row of send_trip: the ids it marked, those it skipped (left the list), and the outcomes it wrote. */
export function toTripAnswer(row: Record<string, unknown>): { marked: string[]; skipped: string[]; recorded: number; requeued: number } {
  const c = columns('send_trip', row);
  return { marked: c.texts('marked'), skipped: c.texts('skipped'), recorded: c.count('recorded'), requeued: c.count('requeued') };
}

/** Each mark's decision, in the order asked: an id given twice is `lost` after its first copy. */
function tripDecisions(marks: string[], answer: { marked: string[]; skipped: string[] }): BeginSendDecision[] {
  const marked = new Set(answer.marked);
  const skipped = new Set(answer.skipped);
  const seen = new Set<string>();
  return marks.map((id): BeginSendDecision => {
    if (seen.has(id)) return 'lost';
    seen.add(id);
    return marked.has(id) ? 'send' : skipped.has(id) ? 'skip' : 'lost';
  });
}
