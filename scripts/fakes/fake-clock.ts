/**
 * Virtual time for pacing tests: `sleep(ms)` parks until the clock is advanced; `runUntil(p)`
 * advances to the next timer whenever every promise chain is idle, until `p` settles.
 * Nothing waits on real time, so schedules are checked exactly and without flakiness.
 */
export class FakeClock {
  private t = 0;
  private seq = 0;
  private timers: Array<{ at: number; seq: number; resolve: () => void }> = [];

  constructor(start = 0) {
    this.t = start;
  }

  now = (): number => this.t;

  sleep = (ms: number): Promise<void> =>
    new Promise<void>((resolve) => {
      this.timers.push({ at: this.t + Math.max(0, ms), seq: this.seq++, resolve });
    });

  /** Move time forward by hand (timers due by then are not fired; use runUntil for that). */
  advance(ms: number): void {
    this.t += ms;
  }

  get pendingTimers(): number {
    return this.timers.length;
  }

  async runUntil<T>(work: Promise<T>): Promise<T> {
    let settled = false;
    const watched = work.finally(() => {
      settled = true;
    });
    watched.catch(() => undefined);
    for (;;) {
      await new Promise<void>((r) => setImmediate(r)); // every microtask chain has run
      if (settled) return watched;
      if (this.timers.length === 0) throw new Error('FakeClock: nothing scheduled but the work has not finished (deadlock)');
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers.shift()!;
      this.t = Math.max(this.t, next.at);
      next.resolve();
    }
  }
}

/** The most start times that fall in any half-open window [t, t + windowMs). */
export function busiestWindow(starts: number[], windowMs = 1000): number {
  const s = [...starts].sort((a, b) => a - b);
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < s.length; hi += 1) {
    while (s[hi]! - s[lo]! >= windowMs) lo += 1;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

/** A seeded PRNG (mulberry32) so "random" latencies are reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
