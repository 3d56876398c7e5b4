import type { Ledger, RequeueOutcome, ResendWindow, UnknownRow } from '../db/ledger';
import { log } from '../log';
import type { LoopSummary } from './loop';
import { startMailout, type SendDeps } from './start';

/**
 * `npm run resend-unknown`: the rows of a finished mailout left `unknown` that SES never
 * reported (no event settled them) after a quiet window. Listing changes nothing; resending
 * queues each such row once more (never a second time) and sends them through the ordinary
 * resume: the same paced, lease-guarded loop, the letter stored at the first claim.
 */

/** SES publishes a message's events within seconds to minutes; an hour of silence by default. */
export const DEFAULT_QUIET_MINUTES = 60;

export interface ResendPlan {
  window: ResendWindow;
  rows: UnknownRow[];
}

/** What a resend would send now; changes nothing. */
export async function planResend(ledger: Ledger, mailoutId: string, quietMinutes: number): Promise<ResendPlan> {
  const window = await ledger.resendWindow(mailoutId, { quietMinutes });
  return { window, rows: window.found ? await ledger.reports.unknownNeverReported(mailoutId) : [] };
}

export interface ResendResult {
  outcome: RequeueOutcome;
  requeued: number;
  /** The resend's send loop, when rows were queued. */
  summary: LoopSummary | null;
}

/** Queue the never-reported rows once more and send them (each at most once more, ever). */
export async function resendUnknown(deps: SendDeps, mailoutId: string, quietMinutes: number): Promise<ResendResult> {
  const { outcome, requeued } = await deps.ledger.requeueUnknown(mailoutId, { quietMinutes });
  log.info('resend_unknown.requeued', { mailout_id: mailoutId, outcome, requeued, quiet_minutes: quietMinutes });
  if (outcome !== 'requeued') return { outcome, requeued, summary: null };
  const started = await startMailout(deps, { mailoutId, fromNotion: false, dryRun: false, continuation: true });
  return { outcome, requeued, summary: started.run ? await started.run() : null };
}
