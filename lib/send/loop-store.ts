import type { Db } from '../db';
import { claimBatch, finishMailout, mailoutCounts, type BatchRecipient, type FinishOutcome, type FinishResult, type MailoutCounts, type SendResult } from '../db/ledger';
import { mailoutFeedbackStats, type FeedbackStats } from '../feedback/store';
import { createResultRecorder, createSendStarter, type Mark } from './recorder';

/**
 * What the send loop asks of the ledger, every call bound to one mailout and its lease: the
 * loop knows no SQL and no `Db`. `ledgerLoopStore` is the real one (the typed wrappers of
 * lib/db/ledger.ts); tests/send/loop-steps.test.ts drives the loop with one in memory.
 */
export interface LoopStore {
  /** The next rows to send (claim_batch), at most `limit`; empty when none is left. */
  claim(limit: number): Promise<BatchRecipient[]>;
  /** Marks one message as handed to SES (begin_sends, grouped); send only on `send`. */
  begin(subscriberId: string): Promise<Mark>;
  /** Records one outcome (record_results, grouped); resolves once committed. */
  record(result: SendResult): Promise<void>;
  /** Resolves once every outcome handed in so far is written (or has failed). */
  drain(): Promise<void>;
  /** The bounce and complaint figures of the auto-pause. */
  stats(): Promise<FeedbackStats>;
  counts(): Promise<MailoutCounts>;
  /** Ends this run in the ledger (finish_mailout). */
  finish(outcome: FinishOutcome, reason?: string | null): Promise<FinishResult>;
}

export interface Lease {
  mailoutId: string;
  leaseToken: string;
  leaseSeconds: number;
}

/** The ledger as the loop sees it; `now` is the run's clock (when each mark was asked for). */
export function ledgerLoopStore(db: Db, lease: Lease, now: () => number): LoopStore {
  const { mailoutId, leaseToken, leaseSeconds } = lease;
  const recorder = createResultRecorder(db, mailoutId, leaseToken);
  const starter = createSendStarter(db, lease, now);
  return {
    claim: (limit) => claimBatch(db, { mailoutId, leaseToken, limit, leaseSeconds }),
    begin: (subscriberId) => starter.begin(subscriberId),
    record: (result) => recorder.record(result),
    drain: () => recorder.drain(),
    stats: () => mailoutFeedbackStats(db, mailoutId),
    counts: () => mailoutCounts(db, mailoutId),
    finish: (outcome, reason = null) => finishMailout(db, { mailoutId, leaseToken, outcome, reason }),
  };
}
