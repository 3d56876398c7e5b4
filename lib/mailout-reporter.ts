import type { FinishResult, MailoutCounts } from './db/ledger';

/**
 * Where the outcome of a mailout is shown (the Notion page and its Errors database).
 * Every method swallows its own failures: a Notion outage never stops or fails a send.
 */
export interface MailoutReporter {
  /** `warnings`: the sender readiness warnings of this send (lib/readiness). */
  sending(mailoutId: string, info: { recipients: number; queued: number; resumed: boolean; warnings?: string[] }): Promise<void>;
  progress(mailoutId: string, counts: MailoutCounts): Promise<void>;
  finished(mailoutId: string, final: FinishResult): Promise<void>;
  duplicate(mailoutId: string, reason: string): Promise<void>;
  /** A live send refused before its claim (the sender is not ready): nothing was claimed. */
  refused(mailoutId: string, reason: string): Promise<void>;
  /**
   * A send that failed after the webhook was answered and before anything was claimed (the
   * page unreadable, its content refused, pre-flight): the page says Failed and why, and the
   * Errors database gets a row, since nobody reads the webhook's answer.
   */
  notSent(mailoutId: string, failure: { code: string; message: string }): Promise<void>;
  testSent(mailoutId: string, info: { sent: number; failed: number; recipients: string[]; warnings?: string[] }): Promise<void>;
  /**
   * Failed recipients of this invocation; `earlierFailures` were recorded by earlier
   * invocations of the same mailout (and may already be rows), so a cap holds per mailout.
   */
  errors(mailoutId: string, rows: { email: string; code: string; message: string }[], earlierFailures: number): Promise<void>;
  /**
   * False when nothing shows the progress: the send loop then neither counts the ledger for
   * `progress` nor waits for a batch to finish before the next one starts. Default true.
   */
  readonly wantsProgress?: boolean;
}

export const silentReporter: MailoutReporter = {
  sending: async () => undefined,
  progress: async () => undefined,
  finished: async () => undefined,
  duplicate: async () => undefined,
  refused: async () => undefined,
  notSent: async () => undefined,
  testSent: async () => undefined,
  errors: async () => undefined,
  wantsProgress: false,
};
