import type { BatchRecipient, FinishOutcome, FinishResult, LeaseRun, MailoutCounts, SendResult } from '../db/ledger';
import type { FeedbackStats } from '../feedback/store';
import { createSendTrips, type Mark, type MarkAhead } from './recorder';

/**
 * What the send loop asks of the ledger, every call bound to one mailout and its lease: the
 * loop knows no SQL and no `Db`. `ledgerLoopStore` is the real one (a view of the run's
 * `LeaseRun`, lib/db/ledger.ts); tests/send/loop-steps.test.ts drives the loop with one in memory.
 */
export interface LoopStore {
  /** The next rows to send (claim_batch), at most `limit`; empty when none is left. */
  claim(limit: number): Promise<BatchRecipient[]>;
  /**
   * Marks one message as handed to SES; send only on `send`. `ahead`, read when the ledger is
   * written, says how many of the next claimed rows may be marked with it (lib/send/recorder.ts).
   */
  begin(subscriberId: string, ahead?: () => MarkAhead): Promise<Mark>;
  /** The message of this row has taken its pacer slot (a store that groups marks reads it). */
  started?(subscriberId: string): void;
  /** Hands one outcome to the ledger at once (synchronously); resolves once it is committed. */
  record(result: SendResult): Promise<void>;
  /** Resolves once every outcome handed in so far is written (or has failed). */
  drain(): Promise<void>;
  /** The bounce and complaint figures of the auto-pause. */
  stats(): Promise<FeedbackStats>;
  counts(): Promise<MailoutCounts>;
  /** Ends this run in the ledger (finish_mailout). */
  finish(outcome: FinishOutcome, reason?: string | null): Promise<FinishResult>;
  /** The most rows marked and not recorded in the ledger at once, when the store marks ahead of `begin`. */
  peakUnrecorded?(): number;
}

const NONE_AHEAD = (): MarkAhead => ({ rows: 0, gather: false, rate: 1 });

/**
 * The ledger as the loop sees it: `run` is the run's calls under its lease, `stats` the
 * mailout's feedback figures, `now` the run's clock (when each mark was asked for). Marks and
 * outcomes travel together in send trips (lib/send/recorder.ts).
 */
export function ledgerLoopStore(run: LeaseRun, stats: () => Promise<FeedbackStats>, now: () => number): LoopStore {
  const trips = createSendTrips(run, now);
  return {
    async claim(limit) {
      const batch = await run.claimBatch({ limit });
      trips.claimed(batch.map((r) => r.subscriberId));
      return batch;
    },
    begin: (subscriberId, ahead = NONE_AHEAD) => trips.begin(subscriberId, ahead),
    started: (subscriberId) => trips.started(subscriberId),
    record: (result) => trips.record(result),
    drain: () => trips.drain(),
    peakUnrecorded: () => trips.peakUnrecorded(),
    stats,
    counts: () => run.counts(),
    finish: (outcome, reason = null) => run.finish({ outcome, reason }),
  };
}
