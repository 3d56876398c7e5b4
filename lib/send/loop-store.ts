import type { BatchRecipient, FinishOutcome, FinishResult, LeaseRun, MailoutCounts, SendResult } from '../db/ledger';
import type { FeedbackStats } from '../feedback/store';
import { createResultRecorder, createSendStarter, type Mark } from './recorder';

/**
 * What the send loop asks of the ledger, every call bound to one mailout and its lease: the
 * loop knows no SQL and no `Db`. `ledgerLoopStore` is the real one (a view of the run's
 * `LeaseRun`, lib/db/ledger.ts); tests/send/loop-steps.test.ts drives the loop with one in memory.
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

/**
 * The ledger as the loop sees it: `run` is the run's calls under its lease, `stats` the
 * mailout's feedback figures, `now` the run's clock (when each mark was asked for).
 */
export function ledgerLoopStore(run: LeaseRun, stats: () => Promise<FeedbackStats>, now: () => number): LoopStore {
  const recorder = createResultRecorder(run);
  const starter = createSendStarter(run, now);
  return {
    claim: (limit) => run.claimBatch({ limit }),
    begin: (subscriberId) => starter.begin(subscriberId),
    record: (result) => recorder.record(result),
    drain: () => recorder.drain(),
    stats,
    counts: () => run.counts(),
    finish: (outcome, reason = null) => run.finish({ outcome, reason }),
  };
}
