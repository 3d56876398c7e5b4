import { TooManyRequestsException } from '@aws-sdk/client-sesv2';
import { createPacer, type Pacer } from '../../lib/ses/pacer';
import { sendWithRetry } from '../../lib/ses/retry';
import { FakeClock, seededRandom } from './fake-clock';

/**
 * The pace through a spell of throttling, in virtual time: `recipients` messages at `rate`/s
 * through the pacer with adaptive places, each sent as the send engine sends it (a place, a
 * slot, SESv2 SendEmail with retries that take a slot each, slowDown on a throttle,
 * recordSuccess on an answer), against a fake SESv2 that answers in `latencyMs` and refuses
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
  const pacer: Pacer = createPacer({ ratePerSec: s.rate, maxConcurrency: Math.max(4, Math.ceil(s.rate)), now: clock.now, sleep: clock.sleep });
  const calls: number[] = [];
  const throttles: number[] = [];
  const rates: Array<[number, number]> = [[0, pacer.rate]];
  const accepted = new Map<number, number>();
  const at = () => clock.now() - t0;

  /** The fake SESv2 SendEmail. */
  async function sendEmail(recipient: number): Promise<{ MessageId: string }> {
    calls.push(at());
    const n = calls.length;
    const refuse = s.throttled(n, calls[n - 1]!, calls);
    await clock.sleep(latency(n));
    if (refuse) {
      throttles.push(at());
      throw new TooManyRequestsException({ message: 'Maximum sending rate exceeded.', $metadata: { httpStatusCode: 429 } });
    }
    accepted.set(recipient, (accepted.get(recipient) ?? 0) + 1);
    return { MessageId: `m-${n}` };
  }

  let peakInFlight = 0;
  async function one(recipient: number): Promise<void> {
    const place = await pacer.place();
    peakInFlight = Math.max(peakInFlight, pacer.inFlight);
    try {
      await place.start();
      let attempt = 0;
      await sendWithRetry(
        async () => {
          if (attempt++ > 0) await place.again();
          return sendEmail(recipient);
        },
        {
          maxAttempts: 10,
          sleep: clock.sleep,
          random,
          onRetry: ({ error }) => {
            if (error.throttled) rates.push([at(), pacer.slowDown()]);
          },
        },
      );
      pacer.recordSuccess();
      rates.push([at(), pacer.rate]);
    } finally {
      place.release();
    }
  }

  await clock.runUntil(Promise.all(Array.from({ length: s.recipients }, (_, i) => one(i))));
  return {
    durationMs: at(),
    calls,
    throttles,
    rates,
    sent: accepted.size,
    duplicates: [...accepted.values()].filter((n) => n > 1).length,
    peakInFlight,
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
