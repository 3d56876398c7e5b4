import { functionMaxDurationSeconds } from '../vercel-functions';
import type { Values } from './env';
import { emailList, intIn, numIn, optionalIntIn } from './parsers';

/** The send: its pace, batches, lease and time budget, and who receives a test send. */
export const sendingVariables = {
  RATE_LIMIT_PER_SEC: numIn(6, 0.1, 1000),
  BATCH_SIZE: intIn(50, 1, 1000),
  // An upper bound only: unset, the sender finds the concurrency the rate needs (see lib/send/loop.ts).
  SEND_CONCURRENCY: optionalIntIn(1, 1000),
  LEASE_SECONDS: intIn(120, 10, 3600),
  // Outside Vercel only (the bench, a run with no platform deadline); the default is vercel.json's.
  MAX_DURATION_SECONDS: intIn(functionMaxDurationSeconds('api/send-mailout.ts'), 10, 900),
  TEST_EMAILS: emailList,
};

export interface SendingConfig {
  sending: {
    ratePerSec: number;
    batchSize: number;
    /** The most messages in flight at once (SEND_CONCURRENCY); unset: one second of sending. */
    concurrency?: number;
    leaseSeconds: number;
    maxDurationSeconds: number;
  };
  testEmails: string[];
}

export function sendingOf(env: Values<typeof sendingVariables>): SendingConfig {
  return {
    sending: {
      ratePerSec: env.RATE_LIMIT_PER_SEC,
      batchSize: env.BATCH_SIZE,
      concurrency: env.SEND_CONCURRENCY,
      leaseSeconds: env.LEASE_SECONDS,
      maxDurationSeconds: env.MAX_DURATION_SECONDS,
    },
    testEmails: env.TEST_EMAILS,
  };
}
