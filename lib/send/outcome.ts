import type { SendResult } from '../db/ledger';
import type { SesErrorInfo } from '../ses';

/** Failures in a row (any recipient) after which a send pauses itself. */
export const MAX_CONSECUTIVE_FAILURES = 10;

export interface ErrorOutcome {
  /** What the ledger records for this recipient. */
  result: SendResult;
  /** The run of failures in a row, this one counted. */
  streak: number;
  /** The message failed (the pacer backs off); not so for `unknown` or an account refusal. */
  failure: boolean;
  /** Pause the whole mailout, with this reason. */
  pause?: string;
}

/**
 * What an SES error means, for the recipient and for the mailout (pure). A request that may
 * have reached SES is `unknown` (never retried); an account-level refusal pauses the mailout
 * and hands the row back; retries that ran out hand it back; any other error fails this
 * recipient. MAX_CONSECUTIVE_FAILURES failures in a row pause the mailout.
 */
export function outcomeOf(subscriberId: string, error: SesErrorInfo, streak: number): ErrorOutcome {
  if (error.maybeDelivered) {
    return { result: { subscriberId, status: 'unknown', errorCode: error.code, errorMessage: error.message }, streak, failure: false };
  }
  if (error.kind === 'account') {
    return { result: { subscriberId, status: 'queued' }, streak, failure: false, pause: `SES refused the account: ${error.code}: ${error.message}` };
  }
  const next = streak + 1;
  const result: SendResult =
    error.kind === 'retry' ? { subscriberId, status: 'queued' } : { subscriberId, status: 'failed', errorCode: error.code, errorMessage: error.message };
  return {
    result,
    streak: next,
    failure: true,
    ...(next >= MAX_CONSECUTIVE_FAILURES ? { pause: `${MAX_CONSECUTIVE_FAILURES} failures in a row; the last: ${error.code}: ${error.message}` } : {}),
  };
}
