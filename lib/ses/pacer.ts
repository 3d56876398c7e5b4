import { createBreaker, type FailureBreaker } from './breaker';

/**
 * Paces sends to a rate by a schedule, not by bursts.
 *
 * Slot i (counted from the last re-anchoring) is at `anchor + ceil(i × (1000 + slack) / rate)` ms
 * (slack 5 ms, `WINDOW_SLACK_MS`); a send
 * starts no earlier than its slot, and slots are handed out in order. So consecutive starts are at
 * least one interval apart and any one-second window [t, t + 1000) holds at most ceil(rate) starts
 * (at most `rate` for a whole-number rate); since real timers wake late, a start also waits until
 * the start ceil(rate) places earlier is a full second (plus the slack) old, so the bound holds for the actual
 * start times, jitter included. When sends fall behind (slow responses, too little
 * concurrency), the schedule re-anchors at "now" instead of catching up in a burst.
 *
 * Concurrency: at most `limit` sends are in flight; a caller first waits for a free place,
 * then for its slot. The limit is either fixed (`concurrency`) or found by the pacer itself
 * (`maxConcurrency`): by Little's law a place is needed for rate × W, W being how long a send
 * holds its place apart from waiting for its slot (the ledger mark, the SES request, the
 * outcome's write, back-offs). W is estimated as TCP estimates a round trip (a smoothed mean
 * plus four smoothed deviations, so a slow tail does not starve the schedule), and the limit
 * is ceil(rate × W) + 1, never above `maxConcurrency`: the ceiling is what bounds the messages
 * a crash can leave `unknown`. Until the first success at most `failureBudget` places are
 * given, and k failures in a row (`recordFailure`) narrow the places to `failureBudget` − k
 * until the next success: a send that fails from the first message (a wrong sender, every
 * address refused) fails at most `failureBudget` times in a row before the caller stops on the
 * same streak (the `breaker` it shares, lib/ses/breaker.ts), however many places the rate would want. `place()` splits the two: the caller holds a place, does its preparation
 * (the send engine marks the attempt in the ledger and builds the message), then takes its
 * slot with `start()` and calls SES at once, so that what is paced is the SES request itself,
 * not the preparation before it (whose duration varies with the database).
 *
 * The rate adapts (AIMD with fast recovery): `slowDown()` on throttling (× 0.7 as TCP CUBIC
 * does, floor 1/s, at most once per `SLOW_DOWN_COOLDOWN_MS` (500 ms) so the burst of 429s from
 * the sends in flight counts once). Once that long has passed with no throttle, every success
 * raises the rate again continuously, doubling per `RECOVER_DOUBLING_MS` (1 s), never above the
 * configured rate (preflight has already capped it at the account's MaxSendRate). Throttling that goes on keeps the rate going
 * down (× 0.7 per 500 ms, no growth in between); when it ends, 40/s is back from the 1/s floor
 * in under 6 s, and an isolated 429 costs about a quarter of a second of sending. A
 * transactional spike of a few seconds on the same account does not leave the newsletter
 * crawling for minutes.
 *
 * Time comes from `now()` / `sleep(ms)`: the send loop passes its own sleep, and tests pass a
 * fake clock's `now` to check the schedule.
 */
export interface PacerOptions {
  /** The configured rate, sends per second. */
  ratePerSec: number;
  /** Sends in flight at once, fixed (default 1 unless `maxConcurrency` is given). */
  concurrency?: number;
  /**
   * The limit adapts to rate × observed latency (Little's law), never above this ceiling.
   * Ignored when `concurrency` is given.
   */
  maxConcurrency?: number;
  /** Adaptive: places before the first success, and the most failures in a row (default 10). */
  failureBudget?: number;
  /**
   * The run's failure streak, shared with the caller that decides a pause on it (lib/ses/breaker.ts);
   * by default a breaker of `failureBudget` of the pacer's own.
   */
  breaker?: FailureBreaker;
  /** Milliseconds, monotonic (default performance.now). */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface Permit {
  /** The slot time (ms, the pacer's clock) this send was scheduled at. */
  readonly slot: number;
  /** The time the slot was taken: the send's start. */
  readonly startedAt: number;
  /** Frees the concurrency place; call once the send is done (idempotent). */
  release(): void;
}

/** A place among the `limit` in flight, held before the slot is taken. */
export interface Place {
  /** Waits for the next slot; the send starts when it resolves (call it at most once). */
  start(): Promise<Permit>;
  /** Another slot for a retry of the same send, still holding the place (after `start`). */
  again(): Promise<Permit>;
  /** Frees the place, whether or not `start` was called (idempotent; same as the permit's). */
  release(): void;
}

export interface Pacer {
  /** Waits for a free place only; the slot comes with `start()` on the place. */
  place(): Promise<Place>;
  /** A place, its slot, fn, then the place released (the test send's way). */
  run<T>(fn: () => Promise<T>): Promise<T>;
  /** Throttled: rate × factor (default THROTTLE_DECREASE, 0.7), not below the floor. Returns the new rate. */
  slowDown(factor?: number): number;
  /** A send succeeded: the rate grows back toward the ceiling (doubling per RECOVER_DOUBLING_MS). */
  recordSuccess(): void;
  /** A send failed (not throttled): with adaptive places, the places narrow (see failureBudget). */
  recordFailure(): void;
  /** Refuse further places and slots (pending ones reject with PacerClosedError). */
  close(): void;
  /** The current rate. */
  readonly rate: number;
  readonly inFlight: number;
  /** Places allowed in flight now (fixed, or rate × estimated latency within the ceiling). */
  readonly limit: number;
  /** The estimated time a send holds its place apart from its slot wait, ms (smoothed mean). */
  readonly latencyMs: number;
}

/** The multiplicative decrease on a throttle (TCP CUBIC's β). */
export const THROTTLE_DECREASE = 0.7;
/** W assumed before the first send is measured: a mark, SES, an outcome. */
const INITIAL_LATENCY_MS = 250;
/** The lowest rate `slowDown` goes to (or the configured rate when that is lower). */
const MIN_RATE_PER_SEC = 1;
/** After a slow-down, successes double the rate per this many ms. */
const RECOVER_DOUBLING_MS = 1000;
/**
 * Each second of the schedule lasts 1000 + this many ms (0.5% under the rate), so that jitter
 * between a slot and the request's arrival at SES up to this much never puts more than the
 * rate into a one-second window there.
 */
const WINDOW_SLACK_MS = 5;
/** Two slow-downs closer than this count as one, and growth waits this long after one. */
const SLOW_DOWN_COOLDOWN_MS = 500;

export class PacerClosedError extends Error {
  constructor() {
    super('The pacer was closed: the send loop is stopping.');
    this.name = 'PacerClosedError';
  }
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function createPacer(options: PacerOptions): Pacer {
  if (!(options.ratePerSec > 0) || !Number.isFinite(options.ratePerSec)) {
    throw new RangeError(`ratePerSec must be a positive number (got ${options.ratePerSec})`);
  }
  const adaptive = options.concurrency === undefined && options.maxConcurrency !== undefined;
  const ceiling = Math.max(1, Math.floor((adaptive ? options.maxConcurrency : options.concurrency) ?? 1));
  const maxRate = options.ratePerSec;
  const minRate = Math.min(maxRate, MIN_RATE_PER_SEC);
  const now = options.now ?? (() => performance.now());
  const sleep = options.sleep ?? realSleep;

  let rate = maxRate;
  let anchor: number | undefined; // integer ms
  let index = 0; // slots handed out since the anchor
  let lastSlot: number | undefined;
  let lastSlowDownAt = Number.NEGATIVE_INFINITY;
  let lastRateChangeAt = Number.NEGATIVE_INFINITY;
  let inFlight = 0;
  let closed = false;
  const waiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];

  // Little's law: W, the time a send holds its place apart from its slot wait, as TCP
  // smooths a round trip (RFC 6298: α 1/8, β 1/4).
  let srtt = INITIAL_LATENCY_MS;
  let rttvar = 0;
  let measured = false;
  const breaker = options.breaker ?? createBreaker(options.failureBudget ?? 10);
  function observeLatency(ms: number): void {
    if (!measured) {
      measured = true;
      srtt = ms;
      rttvar = ms / 4; // the first sample often includes connection set-up: less than RFC 6298's R/2
    } else {
      rttvar = 0.75 * rttvar + 0.25 * Math.abs(srtt - ms);
      srtt = 0.875 * srtt + 0.125 * ms;
    }
    pump();
  }
  function limit(): number {
    if (!adaptive) return ceiling;
    const little = Math.max(1, Math.ceil((rate * (srtt + 4 * rttvar)) / 1000) + 1);
    const probe = breaker.streak > 0 ? Math.max(1, breaker.budget - breaker.streak) : breaker.succeeded ? Infinity : breaker.budget;
    return Math.min(ceiling, little, probe);
  }

  // Each second of slots is stretched by WINDOW_SLACK_MS: the requests reach SES a few ms after
  // their slots, by varying amounts (SDK signing, sockets), and with no slack at all any jitter
  // would put rate + 1 arrivals into some one-second window at SES.
  const offset = (i: number) => Math.ceil((i * (1000 + WINDOW_SLACK_MS)) / rate);

  // Real timers wake late by a few ms: a late start followed by an on-time one would put
  // rate + 1 starts in some one-second window. So a start also waits until the start
  // ceil(rate) places before it is a full second old: the window bound then holds for the
  // actual start times, not only for the slots.
  const windowCap = Math.max(1, Math.ceil(maxRate - 1e-9));
  const recent: number[] = [];
  function windowOpensAt(): number {
    const perWindow = Math.max(1, Math.ceil(rate - 1e-9));
    return recent.length >= perWindow ? recent[recent.length - perWindow]! + 1000 + WINDOW_SLACK_MS : Number.NEGATIVE_INFINITY;
  }

  /** The next slot, in order; re-anchored at now when the schedule has fallen behind. */
  function reserveSlot(): number {
    const t = now();
    let slot = anchor === undefined ? undefined : anchor + offset(index);
    if (slot === undefined || slot < t) {
      anchor = Math.ceil(t);
      index = 0;
      // Never closer than one interval to the previous slot (matters only after a rate change).
      if (lastSlot !== undefined && anchor < lastSlot + offset(1)) anchor = lastSlot + offset(1);
      slot = anchor;
    }
    index += 1;
    lastSlot = slot;
    return slot;
  }

  /** A rate change takes effect from the last slot handed out. */
  function setRate(next: number): number {
    lastRateChangeAt = now();
    if (next === rate) return rate;
    if (lastSlot !== undefined) {
      anchor = lastSlot;
      index = 1;
    }
    rate = next;
    pump();
    return rate;
  }

  /** Hands free places to waiters, in order, up to the limit. */
  function pump(): void {
    while (waiters.length > 0 && inFlight < limit()) {
      inFlight += 1;
      waiters.shift()!.resolve();
    }
  }

  async function takePlace(): Promise<void> {
    if (closed) throw new PacerClosedError();
    if (waiters.length === 0 && inFlight < limit()) {
      inFlight += 1;
      return;
    }
    await new Promise<void>((resolve, reject) => waiters.push({ resolve, reject }));
  }

  function freePlace(): void {
    inFlight -= 1;
    pump();
  }

  /** Waits for the next slot (the caller holds a place); returns its time and the start. */
  async function takeSlot(): Promise<{ slot: number; startedAt: number }> {
    if (closed) throw new PacerClosedError();
    const slot = reserveSlot();
    for (;;) {
      const wait = Math.max(slot, windowOpensAt()) - now();
      if (wait <= 0) break;
      await sleep(wait);
      if (closed) throw new PacerClosedError();
    }
    const startedAt = now(); // checked and recorded with no await in between
    recent.push(startedAt);
    if (recent.length > 2 * windowCap) recent.splice(0, recent.length - windowCap);
    return { slot, startedAt };
  }

  async function place(): Promise<Place> {
    await takePlace();
    const placedAt = now();
    let slotWaitMs = 0;
    let released = false;
    let started = false;
    const release = () => {
      if (released) return;
      released = true;
      // Only sends that took a slot say how long a send needs its place.
      if (started) observeLatency(Math.max(0, now() - placedAt - slotWaitMs));
      freePlace();
    };
    const slotted = async (): Promise<Permit> => {
      const asked = now();
      try {
        const { slot, startedAt } = await takeSlot();
        slotWaitMs += startedAt - asked;
        return { slot, startedAt, release };
      } catch (err) {
        release();
        throw err;
      }
    };
    return {
      async start() {
        if (released) throw new Error('Pacer: start() after the place was released.');
        if (started) throw new Error('Pacer: start() called twice on one place.');
        started = true;
        return slotted();
      },
      async again() {
        if (released) throw new Error('Pacer: again() after the place was released.');
        if (!started) throw new Error('Pacer: again() before start().');
        return slotted();
      },
      release,
    };
  }

  return {
    place,
    async run<T>(fn: () => Promise<T>): Promise<T> {
      const held = await place();
      try {
        await held.start();
        return await fn();
      } finally {
        held.release();
      }
    },
    slowDown(factor = THROTTLE_DECREASE) {
      const t = now();
      if (t - lastSlowDownAt < SLOW_DOWN_COOLDOWN_MS) return rate;
      lastSlowDownAt = t;
      return setRate(Math.max(minRate, Math.min(rate, rate * factor)));
    },
    recordSuccess() {
      if (!breaker.succeeded || breaker.streak > 0) {
        breaker.success();
        pump();
      }
      if (rate >= maxRate) return;
      // Doubling per second of success, from the end of the quiet period after a slow-down.
      const elapsed = now() - Math.max(lastRateChangeAt, lastSlowDownAt + SLOW_DOWN_COOLDOWN_MS);
      if (elapsed <= 0) return;
      setRate(Math.min(maxRate, rate * 2 ** (elapsed / RECOVER_DOUBLING_MS)));
    },
    recordFailure() {
      breaker.failure();
    },
    close() {
      closed = true;
      for (const w of waiters.splice(0)) w.reject(new PacerClosedError());
    },
    get rate() {
      return rate;
    },
    get inFlight() {
      return inFlight;
    },
    get limit() {
      return limit();
    },
    get latencyMs() {
      return srtt;
    },
  };
}
