import type { BatchRecipient, FinishOutcome, FinishResult, MailoutCounts, SendResult } from '../../lib/db/ledger';
import { AppError } from '../../lib/errors';
import type { LoopStore } from '../../lib/send/loop-store';
import type { Mark } from '../../lib/send/recorder';

/**
 * The ledger of one mailout in memory, for driving the send loop with no Postgres, keeping the
 * rules of the SQL functions the loop relies on: a row is handed out only from `queued`
 * (claim_batch), marked only while the lease is this run's (begin_sends: `lost` otherwise),
 * and a row someone left the list for is `skip`ped; once the lease is lost, claim and finish
 * refuse as the database does (ML001 → `lease_lost`) and outcomes change nothing.
 */
export type RowStatus = 'queued' | 'claimed' | 'sending' | 'sent' | 'failed' | 'skipped' | 'unknown';

export interface MemoryLoopStore extends LoopStore {
  readonly rows: Map<string, BatchRecipient & { status: RowStatus }>;
  /** Every begin_sends decision, in order. */
  readonly marks: Array<{ subscriberId: string; decision: Mark['decision'] }>;
  readonly finished: Array<{ outcome: FinishOutcome; reason: string | null }>;
  /** Another run takes the mailout over: from now on nothing of this run's counts. */
  loseLease(): void;
  /** The subscriber left the list (their mark says `skip`). */
  leave(subscriberId: string): void;
  statuses(): Partial<Record<RowStatus, number>>;
}

export function memoryLoopStore(
  recipients: BatchRecipient[],
  opts: {
    now: () => number;
    /** Runs as each mark is made, before its answer (a test's hook into the mark's moment). */
    onBegin?: (subscriberId: string, markNumber: number) => void;
  },
): MemoryLoopStore {
  const rows = new Map(recipients.map((r) => [r.subscriberId, { ...r, status: 'queued' as RowStatus }]));
  const left = new Set<string>();
  const marks: MemoryLoopStore['marks'] = [];
  const finished: MemoryLoopStore['finished'] = [];
  let lost = false;
  const leaseLost = () => new AppError('lease_lost', 'the lease on this mailout is held by another invocation');

  function counts(): MailoutCounts {
    const by = statuses();
    return {
      recipients: rows.size,
      queued: (by.queued ?? 0) + (by.claimed ?? 0),
      sending: by.sending ?? 0,
      sent: by.sent ?? 0,
      failed: by.failed ?? 0,
      skipped: by.skipped ?? 0,
      unknown: by.unknown ?? 0,
    };
  }
  function statuses(): Partial<Record<RowStatus, number>> {
    const out: Partial<Record<RowStatus, number>> = {};
    for (const r of rows.values()) out[r.status] = (out[r.status] ?? 0) + 1;
    return out;
  }

  return {
    rows,
    marks,
    finished,
    loseLease: () => void (lost = true),
    leave: (id) => void left.add(id),
    statuses,
    async claim(limit) {
      if (lost) throw leaseLost();
      const out: BatchRecipient[] = [];
      for (const r of rows.values()) {
        if (out.length >= limit) break;
        if (r.status !== 'queued') continue;
        r.status = 'claimed';
        out.push({ subscriberId: r.subscriberId, email: r.email, name: r.name });
      }
      return out;
    },
    async begin(subscriberId): Promise<Mark> {
      const requestedAt = opts.now();
      opts.onBegin?.(subscriberId, marks.length + 1);
      const row = rows.get(subscriberId);
      let decision: Mark['decision'];
      if (lost || row?.status !== 'claimed') decision = 'lost';
      else if (left.has(subscriberId)) {
        decision = 'skip';
        row.status = 'skipped';
      } else {
        decision = 'send';
        row.status = 'sending';
      }
      marks.push({ subscriberId, decision });
      return { decision, requestedAt };
    },
    async record(result: SendResult) {
      const row = rows.get(result.subscriberId);
      if (lost || !row || (row.status !== 'sending' && row.status !== 'claimed')) return;
      row.status = result.status;
    },
    async drain() {},
    async stats() {
      return { sends: counts().sent, delivered: 0, hardBounces: 0, softBounces: 0, complaints: 0 };
    },
    async counts() {
      return counts();
    },
    async finish(outcome, reason = null): Promise<FinishResult> {
      if (lost) throw leaseLost();
      finished.push({ outcome, reason });
      // A release hands the claimed rows back, as finish_mailout does.
      for (const r of rows.values()) if (r.status === 'claimed') r.status = 'queued';
      const c = counts();
      if (outcome === 'complete' && (c.queued > 0 || c.sending > 0)) throw new Error(`finish_mailout: ${c.queued} queued and ${c.sending} sending deliveries`);
      const status = outcome === 'paused' ? 'paused' : outcome === 'complete' ? 'sent' : 'sending';
      return { mailoutId: 'memory', status, ...c, sentAt: status === 'sent' ? new Date(opts.now()) : null, lastError: reason };
    },
  };
}
