/**
 * Paces sends to a rate by a schedule, not by bursts.
 *
 * Slot i (counted from the last re-anchoring) is at `anchor + ceil(i × 1000 / rate)` ms; a send
 * starts no earlier than its slot, and slots are handed out in order. So consecutive starts are at
 * least one interval apart and any one-second window [t, t + 1000) holds at most ceil(rate) starts
 * (at most `rate` for a whole-number rate); since real timers wake late, a start also waits until
 * the start ceil(rate) places earlier is a full second old, so the bound holds for the actual
 * start times, jitter included. When sends fall behind (slow responses, too little
 * concurrency), the schedule re-anchors at "now" instead of catching up in a burst.
 *
 * Concurrency: at most `concurrency` sends are in flight; a caller first waits for a free place,
 * then for its slot. `place()` splits the two: the caller holds a place, does its preparation
 * (the send engine marks the attempt in the ledger and builds the message), then takes its
 * slot with `start()` and calls SES at once, so that what is paced is the SES request itself,
 * not the preparation before it (whose duration varies with the database).
 *
 * The rate adapts: `slowDown()` on throttling (× 0.5, floor 1/s, at most once per second so a
 * burst of 429s from in-flight sends halves it once), and after `recoverAfter` successes in a
 * row `recordSuccess()` raises it again by `recoverFactor`, never above the configured rate or
 * the account's MaxSendRate.
 *
 * Time comes from the injected `now()` / `sleep(ms)`, so tests check the schedule with a fake clock.
 */
export interface PacerOptions {
  /** The configured rate, sends per second. */
  ratePerSec: number;
  /** Sends in flight at once (default 1). */
  concurrency?: number;
  /** The account's MaxSendRate: a second ceiling. */
  maxSendRate?: number;
  /** Lowest rate `slowDown` goes to (default 1/s, or the ceiling when that is lower). */
  minRatePerSec?: number;
  /** Successes in a row before one recovery step (default 20). */
  recoverAfter?: number;
  /** Multiplier of one recovery step (default 1.25). */
  recoverFactor?: number;
  /** Two slow-downs closer than this count as one (default 1000 ms). */
  slowDownCooldownMs?: number;
  /** Milliseconds, monotonic (default performance.now). */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface Permit {
  /** The slot time (ms, the pacer's clock) this send was scheduled at. */
  readonly slot: number;
  /** The time `acquire` resolved: the send's start. */
  readonly startedAt: number;
  /** Frees the concurrency place; call once the send is done (idempotent). */
  release(): void;
}

/** A place among the `concurrency` in flight, held before the slot is taken. */
export interface Place {
  /** Waits for the next slot; the send starts when it resolves (call it at most once). */
  start(): Promise<Permit>;
  /** Frees the place, whether or not `start` was called (idempotent; same as the permit's). */
  release(): void;
}

export interface Pacer {
  /** Waits for a free place and the next slot. */
  acquire(): Promise<Permit>;
  /** Waits for a free place only; the slot comes with `start()` on the place. */
  place(): Promise<Place>;
  /** acquire → fn → release. */
  run<T>(fn: () => Promise<T>): Promise<T>;
  /** Throttled: rate × factor (default 0.5), not below the floor. Returns the new rate. */
  slowDown(factor?: number): number;
  /** One recovery step toward the ceiling. Returns the new rate. */
  recover(): number;
  /** A send succeeded; every `recoverAfter` in a row, one recovery step. */
  recordSuccess(): void;
  /** Refuse further acquires (pending ones reject with PacerClosedError). */
  close(): void;
  /** The current rate. */
  readonly rate: number;
  /** min(configured rate, MaxSendRate): the rate never goes above this. */
  readonly maxRate: number;
  readonly inFlight: number;
}

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
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? 1));
  const maxRate =
    options.maxSendRate !== undefined && options.maxSendRate > 0
      ? Math.min(options.ratePerSec, options.maxSendRate)
      : options.ratePerSec;
  const minRate = Math.min(maxRate, options.minRatePerSec ?? 1);
  const recoverAfter = Math.max(1, Math.floor(options.recoverAfter ?? 20));
  const recoverFactor = Math.max(1.01, options.recoverFactor ?? 1.25);
  const cooldownMs = options.slowDownCooldownMs ?? 1000;
  const now = options.now ?? (() => performance.now());
  const sleep = options.sleep ?? realSleep;

  let rate = maxRate;
  let anchor: number | undefined; // integer ms
  let index = 0; // slots handed out since the anchor
  let lastSlot: number | undefined;
  let successes = 0;
  let lastSlowDownAt = Number.NEGATIVE_INFINITY;
  let inFlight = 0;
  let closed = false;
  const waiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];

  const offset = (i: number) => Math.ceil((i * 1000) / rate);

  // Real timers wake late by a few ms: a late start followed by an on-time one would put
  // rate + 1 starts in some one-second window. So a start also waits until the start
  // ceil(rate) places before it is a full second old: the window bound then holds for the
  // actual start times, not only for the slots.
  const windowCap = Math.max(1, Math.ceil(maxRate - 1e-9));
  const recent: number[] = [];
  function windowOpensAt(): number {
    const perWindow = Math.max(1, Math.ceil(rate - 1e-9));
    return recent.length >= perWindow ? recent[recent.length - perWindow]! + 1000 : Number.NEGATIVE_INFINITY;
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
    if (next === rate) return rate;
    if (lastSlot !== undefined) {
      anchor = lastSlot;
      index = 1;
    }
    rate = next;
    return rate;
  }

  async function takePlace(): Promise<void> {
    if (closed) throw new PacerClosedError();
    if (inFlight < concurrency) {
      inFlight += 1;
      return;
    }
    await new Promise<void>((resolve, reject) => waiters.push({ resolve, reject }));
  }

  function freePlace(): void {
    const next = waiters.shift();
    if (next) next.resolve(); // the place passes straight to the next waiter
    else inFlight -= 1;
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
    let released = false;
    let started = false;
    const release = () => {
      if (released) return;
      released = true;
      freePlace();
    };
    return {
      async start() {
        if (released) throw new Error('Pacer: start() after the place was released.');
        if (started) throw new Error('Pacer: start() called twice on one place.');
        started = true;
        try {
          const { slot, startedAt } = await takeSlot();
          return { slot, startedAt, release };
        } catch (err) {
          release();
          throw err;
        }
      },
      release,
    };
  }

  async function acquire(): Promise<Permit> {
    return (await place()).start();
  }

  return {
    acquire,
    place,
    async run<T>(fn: () => Promise<T>): Promise<T> {
      const permit = await acquire();
      try {
        return await fn();
      } finally {
        permit.release();
      }
    },
    slowDown(factor = 0.5) {
      successes = 0;
      const t = now();
      if (t - lastSlowDownAt < cooldownMs) return rate;
      lastSlowDownAt = t;
      return setRate(Math.max(minRate, Math.min(rate, rate * factor)));
    },
    recover() {
      return setRate(Math.min(maxRate, rate * recoverFactor));
    },
    recordSuccess() {
      if (rate >= maxRate) {
        successes = 0;
        return;
      }
      successes += 1;
      if (successes >= recoverAfter) {
        successes = 0;
        setRate(Math.min(maxRate, rate * recoverFactor));
      }
    },
    close() {
      closed = true;
      for (const w of waiters.splice(0)) w.reject(new PacerClosedError());
    },
    get rate() {
      return rate;
    },
    get maxRate() {
      return maxRate;
    },
    get inFlight() {
      return inFlight;
    },
  };
}
