import { log } from '../log';
import type { Db } from '../db/types';
import type { SesEvent } from './ses';

/** Typed calls of the feedback SQL functions (supabase/migrations/20261124130100_feedback.sql). */

export interface AppliedEvent {
  /** False when this SNS MessageId was already stored: nothing changed. */
  applied: boolean;
  /** True when the same SES feedback (feedbackId) was already applied under another SNS message. */
  duplicateFeedback: boolean;
  mailoutId: string | null;
  hardBounced: number;
  softBounced: number;
  bouncedBySoftLimit: number;
  unsubscribed: number;
  softReset: number;
  /** The event settled its delivery: an `unknown` row (or one queued to be resent) is now `sent`. */
  settled: boolean;
}

export async function applySesEvent(
  db: Db,
  args: { snsMessageId: string; event: SesEvent; softBounceLimit: number },
): Promise<AppliedEvent> {
  const e = args.event;
  const rows = await db.rpc<Record<string, unknown>>('apply_ses_event', {
    p_sns_message_id: args.snsMessageId,
    p_event_type: e.eventType,
    p_ses_message_id: e.sesMessageId,
    p_recipients: e.recipients,
    p_bounce_type: e.bounceType,
    p_bounce_subtype: e.bounceSubtype,
    p_bounce_class: e.bounceClass,
    p_feedback_id: e.feedbackId,
    p_hard_bounced: e.hardBounced,
    p_soft_bounced: e.softBounced,
    p_complained: e.complained,
    p_delivered: e.delivered,
    p_soft_bounce_limit: args.softBounceLimit,
    p_payload: e.payload,
    p_mailout_tag: e.mailoutTag,
    p_subscriber_tag: e.subscriberTag,
  });
  const r = rows[0];
  if (!r) throw new Error('apply_ses_event returned no row');
  return {
    applied: Boolean(r.applied),
    duplicateFeedback: Boolean(r.duplicate_feedback),
    mailoutId: (r.mailout_id as string | null) ?? null,
    hardBounced: Number(r.hard_bounced),
    softBounced: Number(r.soft_bounced),
    bouncedBySoftLimit: Number(r.bounced_by_soft_limit),
    unsubscribed: Number(r.unsubscribed),
    softReset: Number(r.soft_reset),
    settled: Boolean(r.settled),
  };
}

export interface FeedbackStats {
  /** Deliveries recorded as sent. */
  sends: number;
  /** Recipients with a Delivery event. */
  delivered: number;
  hardBounces: number;
  softBounces: number;
  complaints: number;
}

/** The mailout's feedback, recipients counted once (ledger joined to ses_events on the SES message id). */
export async function mailoutFeedbackStats(db: Db, mailoutId: string): Promise<FeedbackStats> {
  const rows = await db.rpc<Record<string, unknown>>('mailout_feedback_stats', { p_mailout_id: mailoutId });
  const r = rows[0] ?? {};
  return {
    sends: Number(r.sends ?? 0),
    delivered: Number(r.delivered ?? 0),
    hardBounces: Number(r.hard_bounces ?? 0),
    softBounces: Number(r.soft_bounces ?? 0),
    complaints: Number(r.complaints ?? 0),
  };
}

/** The mailout's feedback for the auto-pause and the Notion counts; null (logged) if it cannot be read. */
export async function feedbackStatsOrNull(db: Db, mailoutId: string): Promise<FeedbackStats | null> {
  try {
    return await mailoutFeedbackStats(db, mailoutId);
  } catch (err) {
    log.warn('send.feedback_stats_failed', { mailout_id: mailoutId, error: err });
    return null;
  }
}

/** The counts a mailout's Notion page shows (Delivered, Bounced, Complaints); null if they cannot be read. */
export async function feedbackCountsOrNull(
  db: Db,
  mailoutId: string,
): Promise<{ delivered: number; hardBounces: number; complaints: number } | null> {
  const s = await feedbackStatsOrNull(db, mailoutId);
  return s ? { delivered: s.delivered, hardBounces: s.hardBounces, complaints: s.complaints } : null;
}

/** SES reviews an account at a 5% bounce rate or a 0.1% complaint rate; above either, the send pauses itself (lib/send/loop.ts). */
export const BOUNCE_PAUSE_RATE = 0.05;
export const COMPLAINT_PAUSE_RATE = 0.001;
/** The rates count only once the mailout has this many sends. */
export const FEEDBACK_WINDOW = 100;

/** A reason to pause, when the feedback says the list is hurting the sender's reputation. */
export function autoPauseReason(stats: FeedbackStats | null): string | null {
  if (!stats || stats.sends < FEEDBACK_WINDOW) return null;
  const bounceRate = stats.hardBounces / stats.sends;
  const complaintRate = stats.complaints / stats.sends;
  if (bounceRate >= BOUNCE_PAUSE_RATE) {
    return `Auto-paused: hard-bounce rate ${(bounceRate * 100).toFixed(1)}% (${stats.hardBounces} of ${stats.sends}) reached ${BOUNCE_PAUSE_RATE * 100}%. Clean the list before resuming.`;
  }
  if (complaintRate >= COMPLAINT_PAUSE_RATE) {
    return `Auto-paused: complaint rate ${(complaintRate * 100).toFixed(2)}% (${stats.complaints} of ${stats.sends}) reached ${COMPLAINT_PAUSE_RATE * 100}%.`;
  }
  return null;
}

/** True at most once per `minIntervalSeconds` per mailout, across every instance. */
export async function claimNotionRefresh(db: Db, mailoutId: string, minIntervalSeconds = 10): Promise<boolean> {
  const rows = await db.rpc<{ should_refresh: boolean }>('claim_notion_refresh', {
    p_mailout_id: mailoutId,
    p_min_interval_seconds: minIntervalSeconds,
  });
  return Boolean(rows[0]?.should_refresh);
}

/** Mailouts whose refresh the throttle held back and that are now due; each is claimed for the caller. */
export async function claimPendingNotionRefreshes(db: Db, minIntervalSeconds = 10, limit = 20): Promise<string[]> {
  const rows = await db.rpc<{ mailout_id: string }>('claim_pending_notion_refreshes', {
    p_min_interval_seconds: minIntervalSeconds,
    p_limit: limit,
  });
  return rows.map((r) => r.mailout_id);
}
