import type { BeginSendDecision, LeaseRun, SendResult } from '../db/ledger';

/**
 * The send engine's two ledger writes per message, each grouped while a write is running
 * (group commit): at 6/s every message gets its own writes, at thousands per second the
 * writes stay few. Nobody waits for a timer: a write goes as soon as the previous one is back.
 *
 * - The recorder writes each send's outcome to the ledger as soon as SES answers, so that a
 *   crash loses only what was really in flight.
 * - The starter marks each message (begin_sends) just before SES sees it; the caller sends
 *   only once its own mark is committed, and only if the decision is `send`.
 */
export interface ResultRecorder {
  /** Resolves once the outcome is committed; rejects if the write failed. */
  record(result: SendResult): Promise<void>;
  /** Resolves once everything handed in so far has been written (or has failed). */
  drain(): Promise<void>;
}

/** begin_sends' decision for one id, and when (by the caller's clock) the request that made it was sent. */
export interface Mark {
  decision: BeginSendDecision;
  /** The lease is surely this run's until requestedAt + the lease (begin_sends extends it). */
  requestedAt: number;
}

export interface SendStarter {
  /** Resolves once the attempt is committed, with its mark; rejects if the write failed. */
  begin(subscriberId: string): Promise<Mark>;
}

interface Pending<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (err: unknown) => void;
}

/** Items handed in while a write runs go together in the next write. */
function groupCommit<I, O>(write: (items: I[]) => Promise<O[]>) {
  let pending: Pending<I, O>[] = [];
  let flushing: Promise<void> | null = null;

  async function flush(): Promise<void> {
    while (pending.length > 0) {
      const group = pending;
      pending = [];
      try {
        const out = await write(group.map((p) => p.item));
        group.forEach((p, i) => p.resolve(out[i]!));
      } catch (err) {
        for (const p of group) p.reject(err);
      }
    }
    flushing = null;
  }

  return {
    submit(item: I): Promise<O> {
      return new Promise<O>((resolve, reject) => {
        pending.push({ item, resolve, reject });
        flushing ??= flush();
      });
    },
    async drain(): Promise<void> {
      while (flushing) await flushing;
    },
  };
}

export function createResultRecorder(run: LeaseRun): ResultRecorder {
  const group = groupCommit<SendResult, void>(async (results) => {
    await run.record(results);
    return results.map(() => undefined);
  });
  return {
    record: (result) => group.submit(result),
    drain: () => group.drain(),
  };
}

export function createSendStarter(run: LeaseRun, now: () => number): SendStarter {
  const group = groupCommit<string, Mark>(async (ids) => {
    const requestedAt = now();
    const decisions = await run.begin(ids);
    // An id the database did not answer for was not marked: it must not be sent.
    return ids.map((id) => ({ decision: decisions.get(id) ?? 'lost', requestedAt }));
  });
  return {
    begin: (subscriberId) => group.submit(subscriberId),
  };
}
