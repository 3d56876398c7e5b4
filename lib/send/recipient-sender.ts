import type { BatchRecipient } from '../db/ledger';
import type { Recipient } from '../letter/types';
import { createBreaker, createPacer, sendWithRetry, type ClassifyContext, type FailureBreaker, type Pacer, type Place } from '../ses';
import { MAX_CONSECUTIVE_FAILURES } from './outcome';
import type { PreparedSend, SendEmail, SendEmailPayload } from '../ses/send-email';

/**
 * The one way a recipient's message reaches SES: its SendEmail input built and signed
 * (`prepare`, before the slot: what is paced is the request leaving), then sent in the slot of
 * a pacer place, retried only as classification allows (`sendWithRetry`: a request that may have
 * reached SES is never sent again), each retry in a slot of its own, a throttle slowing the pace.
 * The pacer and the run's failure breaker come with it, built once per run.
 */
export interface RecipientSender<R extends Recipient = BatchRecipient> {
  readonly pacer: Pacer;
  readonly breaker: FailureBreaker;
  prepare(recipient: R): Promise<PreparedSend>;
  /**
   * Sends in `place`, whose first slot the caller has taken (`place.start()`). `beforeAttempt`
   * runs before every attempt, the first included: a throw refuses that attempt (and is not retried).
   * Rejects with an `SesError`.
   */
  send(prepared: PreparedSend, place: Place, beforeAttempt: () => void): Promise<{ MessageId?: string }>;
}

export interface RecipientSenderOptions<R extends Recipient> {
  sendEmail: Pick<SendEmail, 'prepare' | 'send'>;
  pacer: Pacer;
  breaker: FailureBreaker;
  /** The recipient's copy of the letter (recipientMessage, or serialized: recipientMessageJson). */
  message(recipient: R): SendEmailPayload;
  /** For classification (a rejection naming the sender is account-level). */
  classify: ClassifyContext;
  /** Attempts in all (sendWithRetry's default when unset). */
  maxAttempts?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export function createRecipientSender<R extends Recipient>(o: RecipientSenderOptions<R>): RecipientSender<R> {
  const { sendEmail, pacer } = o;
  const retry = {
    // At most once per recipient: a request that may have reached SES is not sent again.
    retryMaybeDelivered: false,
    classify: o.classify,
    ...(o.maxAttempts !== undefined ? { maxAttempts: o.maxAttempts } : {}),
    ...(o.sleep ? { sleep: o.sleep } : {}),
    ...(o.random ? { random: o.random } : {}),
    onRetry: ({ error }: { error: { throttled: boolean } }) => {
      if (error.throttled) pacer.slowDown();
    },
  };
  return {
    pacer,
    breaker: o.breaker,
    prepare: (recipient) => sendEmail.prepare(o.message(recipient)),
    send(prepared, place, beforeAttempt) {
      let attempt = 0;
      return sendWithRetry(async () => {
        // A retry is paced like a first attempt: it takes a slot of its own.
        if (attempt++ > 0) await place.again();
        beforeAttempt();
        return sendEmail.send(prepared);
      }, retry);
    },
  };
}

/**
 * A sender for one run at `rate`: its breaker (MAX_CONSECUTIVE_FAILURES in a row), and a pacer
 * with adaptive places within `maxConcurrency` that reads that breaker. `now`: the pacer's
 * clock (monotonic; performance.now by default).
 */
export function pacedRecipientSender<R extends Recipient>(
  o: Omit<RecipientSenderOptions<R>, 'pacer' | 'breaker'> & { rate: number; maxConcurrency: number; now?: () => number },
): RecipientSender<R> {
  const { rate, maxConcurrency, now, ...rest } = o;
  const breaker = createBreaker(MAX_CONSECUTIVE_FAILURES);
  const pacer = createPacer({ ratePerSec: rate, maxConcurrency, breaker, ...(now ? { now } : {}), ...(o.sleep ? { sleep: o.sleep } : {}) });
  return createRecipientSender({ ...rest, pacer, breaker });
}

/**
 * One message with no ledger step between its place and its slot (the test send): a place,
 * the message prepared, its slot, the send, the place released. Rejects with an `SesError`.
 */
export async function sendPaced<R extends Recipient>(sender: RecipientSender<R>, recipient: R): Promise<{ MessageId?: string }> {
  const place = await sender.pacer.place();
  try {
    const prepared = await sender.prepare(recipient);
    await place.start();
    const out = await sender.send(prepared, place, () => undefined);
    sender.pacer.recordSuccess();
    return out;
  } finally {
    place.release();
  }
}
