import { TooManyRequestsException, type SendEmailCommandInput } from '@aws-sdk/client-sesv2';
import { silentReporter } from '../../lib/mailout-reporter';
import { createRunState, sendOne } from '../../lib/send/loop';
import { pacedRecipientSender } from '../../lib/send/recipient-sender';
import type { PreparedSend } from '../../lib/ses/send-email';
import { memoryLoopStore } from './memory-loop-store';
import { FakeClock, seededRandom } from './fake-clock';

/**
 * The pace through a spell of throttling, in virtual time: `recipients` messages at `rate`/s,
 * each sent by the send loop's own `sendOne` (lib/send/loop.ts: a place, the mark in a ledger
 * kept in memory, a slot, SESv2 SendEmail with retries that take a slot each, slowDown on a
 * throttle, recordSuccess on an answer, the outcome recorded) through the run's paced
 * RecipientSender with adaptive places, against a fake SESv2 that answers in `latencyMs` and refuses
 * the calls `throttled` picks with TooManyRequestsException (429, "Maximum sending rate
 * exceeded.").
 */
export interface ThrottleScenario {
  rate: number;
  recipients: number;
  /** Call n (1-based) arriving at `at` ms from the start, after the arrivals `calls`: refused? */
  throttled: (n: number, at: number, calls: readonly number[]) => boolean;
  /** SES answer time for call n (1-based), ms. */
  latencyMs?: (n: number) => number;
  seed?: number;
}

export interface ThrottleRun {
  /** Virtual ms from the first slot to the last answer. */
  durationMs: number;
  /** Arrival time of every SendEmail call (retries included), ms from the start. */
  calls: number[];
  /** When each throttle was answered, ms from the start. */
  throttles: number[];
  /** The pacer's rate after each event, as [ms from the start, rate]. */
  rates: Array<[number, number]>;
  sent: number;
  /** Recipients that got more than one accepted call (must be 0). */
  duplicates: number;
  peakInFlight: number;
}

/** The fake of issue 17: every `every`-th of the first `first` calls is throttled, then none. */
export const everyNthOfFirst = (every: number, first: number) => (n: number) => n <= first && n % every === 0;

/**
 * An account that allows `allowed` calls in any second until `untilMs`, then never throttles
 * (a transactional spike on the same account): a call is refused when `allowed` calls
 * already arrived in the second before it.
 */
export const spikeUntil = (allowed: number, untilMs: number) => (n: number, at: number, calls: readonly number[]) => {
  if (at >= untilMs) return false;
  let inWindow = 0;
  for (let i = n - 2; i >= 0 && calls[i]! > at - 1000; i -= 1) inWindow += 1;
  return inWindow >= allowed;
};

export async function runThrottleScenario(s: ThrottleScenario): Promise<ThrottleRun> {
  const clock = new FakeClock(1_000_000);
  const t0 = clock.now();
  const random = seededRandom(s.seed ?? 17);
  const latency = s.latencyMs ?? (() => 60 + random() * 60);
  const calls: number[] = [];
  const throttles: number[] = [];
  const accepted = new Map<string, number>();
  const at = () => clock.now() - t0;

  /** The fake SESv2 SendEmail (its signing is nothing here: the request is the input). */
  const sendEmail = {
    prepare: async (input: SendEmailCommandInput): Promise<PreparedSend> => ({ request: input }),
    async send(prepared: PreparedSend): Promise<{ MessageId: string }> {
      calls.push(at());
      const n = calls.length;
      const refuse = s.throttled(n, calls[n - 1]!, calls);
      await clock.sleep(latency(n));
      if (refuse) {
        throttles.push(at());
        throw new TooManyRequestsException({ message: 'Maximum sending rate exceeded.', $metadata: { httpStatusCode: 429 } });
      }
      const to = (prepared.request as SendEmailCommandInput).Destination!.ToAddresses![0]!;
      accepted.set(to, (accepted.get(to) ?? 0) + 1);
      return { MessageId: `m-${n}` };
    },
  };
  const recipients = Array.from({ length: s.recipients }, (_, i) => ({ subscriberId: `s-${i}`, email: `r${i}@example.com`, name: null }));
  const store = memoryLoopStore(recipients, { now: clock.now });
  const sender = pacedRecipientSender({
    sendEmail,
    rate: s.rate,
    maxConcurrency: Math.max(4, Math.ceil(s.rate)),
    now: clock.now,
    sleep: clock.sleep,
    random,
    maxAttempts: 10,
    message: (r) => ({ Destination: { ToAddresses: [r.email] }, Content: { Simple: { Subject: { Data: 'S' }, Body: { Text: { Data: 'T' } } } } }),
    classify: { fromEmail: 'news@example.com' },
  });
  // The pacer's rate after each slow-down and each success, as the send engine changes it.
  const rates: Array<[number, number]> = [[0, sender.pacer.rate]];
  const { slowDown, recordSuccess } = sender.pacer;
  Object.assign(sender.pacer, {
    slowDown: (factor?: number) => {
      const r = slowDown(factor);
      rates.push([at(), r]);
      return r;
    },
    recordSuccess: () => {
      recordSuccess();
      rates.push([at(), sender.pacer.rate]);
    },
  });
  const state = createRunState({
    store,
    sender,
    settings: { mailoutId: 'throttle-scenario', batchSize: s.recipients, maxConcurrency: Math.max(4, Math.ceil(s.rate)), leaseSeconds: 3600, deadline: Infinity, safetyMarginMs: 0 },
    reporter: silentReporter,
    clock: { now: clock.now },
  });

  await store.claim(s.recipients);
  const outcomes = await clock.runUntil(Promise.all(recipients.map((r) => sendOne(state, r))));
  const notSent = outcomes.filter((o) => o.status !== 'sent');
  if (notSent.length) throw new Error(`not sent: ${JSON.stringify(notSent.slice(0, 3))}`);
  return {
    durationMs: at(),
    calls,
    throttles,
    rates,
    sent: accepted.size,
    duplicates: [...accepted.values()].filter((n) => n > 1).length,
    peakInFlight: state.summary.peakConcurrency,
  };
}

/** The rate the pacer held at time t (ms from the start). */
export function rateAt(run: ThrottleRun, t: number): number {
  let r = run.rates[0]![1];
  for (const [at, rate] of run.rates) {
    if (at > t) break;
    r = rate;
  }
  return r;
}

/** SendEmail calls per whole second from the start: the curve of the pace. */
export function callsPerSecond(run: ThrottleRun): number[] {
  const out: number[] = [];
  for (const c of run.calls) {
    const s = Math.floor(c / 1000);
    while (out.length <= s) out.push(0);
    out[s]! += 1;
  }
  return out;
}
