import type { Db } from '../db';
import { recordResults, type SendResult } from '../db/ledger';

/**
 * Writes each send's outcome to the ledger as soon as SES answers, so that a crash loses
 * only what was really in flight. While one write is running, the outcomes that arrive
 * are grouped into the next (group commit): at 6/s every outcome gets its own write, at
 * thousands per second the writes stay few.
 */
export interface ResultRecorder {
  /** Resolves once the outcome is committed; rejects if the write failed. */
  record(result: SendResult): Promise<void>;
  /** Resolves once everything handed in so far has been written (or has failed). */
  drain(): Promise<void>;
  readonly writes: number;
}

interface Pending {
  result: SendResult;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export function createResultRecorder(db: Db, mailoutId: string, leaseToken: string): ResultRecorder {
  let pending: Pending[] = [];
  let flushing: Promise<void> | null = null;
  let writes = 0;

  async function flush(): Promise<void> {
    while (pending.length > 0) {
      const group = pending;
      pending = [];
      writes += 1;
      try {
        await recordResults(
          db,
          mailoutId,
          leaseToken,
          group.map((p) => p.result),
        );
        for (const p of group) p.resolve();
      } catch (err) {
        for (const p of group) p.reject(err);
      }
    }
    flushing = null;
  }

  return {
    record(result) {
      return new Promise<void>((resolve, reject) => {
        pending.push({ result, resolve, reject });
        flushing ??= flush();
      });
    },
    async drain() {
      while (flushing) await flushing;
    },
    get writes() {
      return writes;
    },
  };
}
