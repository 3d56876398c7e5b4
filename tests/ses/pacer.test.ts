import { createPacer, PacerClosedError, type Pacer } from '../../lib/ses/pacer';
import { busiestWindow, FakeClock, seededRandom } from '../../scripts/fakes/fake-clock';

interface RunResult {
  starts: number[];
  maxInFlight: number;
}

/** `total` sends through the pacer's `run` (the test send's way) by `workers` loops, each taking latency(i) ms of fake time. */
async function drive(
  clock: FakeClock,
  pacer: Pacer,
  total: number,
  workers: number,
  latency: (i: number) => number,
  onSent?: (i: number) => void,
): Promise<RunResult> {
  const starts: number[] = [];
  let next = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const worker = async () => {
    while (next < total) {
      const i = next++;
      await pacer.run(async () => {
        starts.push(clock.now());
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await clock.sleep(latency(i));
        inFlight -= 1;
      });
      onSent?.(i);
    }
  };
  await clock.runUntil(Promise.all(Array.from({ length: workers }, worker)));
  return { starts, maxInFlight };
}

const achievedRate = (starts: number[]) => ((starts.length - 1) * 1000) / (starts[starts.length - 1]! - starts[0]!);

describe('busiestWindow (the checker the pacing tests rely on)', () => {
  it('counts a burst as a burst and an even schedule as even', () => {
    expect(busiestWindow(Array.from({ length: 10 }, () => 0))).toBe(10);
    expect(busiestWindow(Array.from({ length: 60 }, (_, i) => Math.ceil((i * 1000) / 6)))).toBe(6);
    expect(busiestWindow([0, 999, 1000])).toBe(2);
    expect(busiestWindow([0, 500, 999])).toBe(3);
  });
});

describe('createPacer: a schedule, not bursts', () => {
  it.each([
    { rate: 6, concurrency: 1, workers: 1 },
    { rate: 6, concurrency: 4, workers: 4 },
    { rate: 50, concurrency: 8, workers: 8 },
    { rate: 50, concurrency: 8, workers: 20 },
    { rate: 14, concurrency: 3, workers: 5 },
  ])('never starts more than $rate sends in any one-second window (rate $rate/s, concurrency $concurrency, $workers callers, random latency)', async ({ rate, concurrency, workers }) => {
    const clock = new FakeClock(12_345.678);
    const pacer = createPacer({ ratePerSec: rate, concurrency, now: clock.now, sleep: clock.sleep });
    const random = seededRandom(rate * 1000 + workers);
    const { starts, maxInFlight } = await drive(clock, pacer, 1200, workers, () => 20 + random() * 130);

    expect(starts).toHaveLength(1200);
    expect(busiestWindow(starts)).toBeLessThanOrEqual(rate);
    expect(maxInFlight).toBeLessThanOrEqual(concurrency);
    // The i-th send starts no earlier than start + i / rate.
    starts.forEach((t, i) => expect(t).toBeGreaterThanOrEqual(starts[0]! + (i * 1000) / rate - 1e-9));
    // And the schedule is kept: 20-150 ms latencies fit in the slots (concurrency × interval > 150 ms).
    expect(achievedRate(starts)).toBeGreaterThanOrEqual(rate * 0.99);
    expect(pacer.inFlight).toBe(0);
  });

  it.each([
    { rate: 6, concurrency: 1 },
    { rate: 50, concurrency: 8 },
  ])('keeps the window bound for actual start times when timers wake late ($rate/s, concurrency $concurrency)', async ({ rate, concurrency }) => {
    const clock = new FakeClock();
    const jitter = seededRandom(rate + 99);
    // Like real timers: every sleep overshoots by 0-12 ms.
    const lateSleep = (ms: number) => clock.sleep(ms + jitter() * 12);
    const pacer = createPacer({ ratePerSec: rate, concurrency, now: clock.now, sleep: lateSleep });
    const random = seededRandom(3);
    const { starts } = await drive(clock, pacer, 1200, concurrency, () => 20 + random() * 130);
    expect(busiestWindow(starts)).toBeLessThanOrEqual(rate);
    expect(achievedRate(starts)).toBeGreaterThanOrEqual(rate * 0.98);
  });

  it('keeps at most ceil(rate) starts per second for a fractional rate', async () => {
    const clock = new FakeClock();
    const pacer = createPacer({ ratePerSec: 2.5, concurrency: 2, now: clock.now, sleep: clock.sleep });
    const random = seededRandom(7);
    const { starts } = await drive(clock, pacer, 300, 3, () => random() * 700); // two places × 400 ms slots > 700 ms
    expect(busiestWindow(starts)).toBeLessThanOrEqual(3);
    expect(busiestWindow(starts, 2000)).toBeLessThanOrEqual(5);
    expect(achievedRate(starts)).toBeGreaterThanOrEqual(2.5 * 0.99);
  });

  it('does not catch up in a burst after falling behind', async () => {
    const clock = new FakeClock();
    const pacer = createPacer({ ratePerSec: 10, concurrency: 1, now: clock.now, sleep: clock.sleep });
    // The first 20 sends take 1 s each (the schedule falls ~18 s behind), then 5 ms each.
    const { starts } = await drive(clock, pacer, 120, 1, (i) => (i < 20 ? 1000 : 5));
    const after = starts.slice(19);
    for (let i = 1; i < after.length; i += 1) expect(after[i]! - after[i - 1]!).toBeGreaterThanOrEqual(100);
    expect(busiestWindow(starts)).toBeLessThanOrEqual(10);
  });

  it('never exceeds the rate it is given, with places to spare (preflight caps it at MaxSendRate: tests/ses/preflight.test.ts)', async () => {
    const clock = new FakeClock();
    const pacer = createPacer({ ratePerSec: 14, concurrency: 8, now: clock.now, sleep: clock.sleep });
    expect(pacer.rate).toBe(14);
    const { starts } = await drive(clock, pacer, 500, 8, () => 30);
    expect(busiestWindow(starts)).toBeLessThanOrEqual(14);
  });

  it('offers what the send loop and the test send use, nothing more', () => {
    const pacer = createPacer({ ratePerSec: 6 });
    expect(Object.keys(pacer).sort()).toEqual(['close', 'inFlight', 'latencyMs', 'limit', 'place', 'rate', 'recordFailure', 'recordSuccess', 'run', 'slowDown']);
  });

  it('rejects a rate that is not a positive number', () => {
    expect(() => createPacer({ ratePerSec: 0 })).toThrow(RangeError);
    expect(() => createPacer({ ratePerSec: Number.NaN })).toThrow(RangeError);
  });
});

describe('createPacer: slowing down on throttling and recovering', () => {
  it('slows down by the factor given, not below 1/s, and counts a burst of throttles within a second as one', () => {
    const clock = new FakeClock();
    const pacer = createPacer({ ratePerSec: 8, now: clock.now, sleep: clock.sleep });
    expect(pacer.slowDown(0.5)).toBe(4);
    expect(pacer.slowDown(0.5)).toBe(4); // same instant: the other in-flight 429s of the same burst
    clock.advance(1000);
    expect(pacer.slowDown(0.5)).toBe(2);
    clock.advance(1000);
    expect(pacer.slowDown(0.5)).toBe(1);
    clock.advance(1000);
    expect(pacer.slowDown(0.5)).toBe(1);
  });

  it('slows down × 0.7 by default, once per 500 ms however many 429s arrive', () => {
    const clock = new FakeClock();
    const pacer = createPacer({ ratePerSec: 40, now: clock.now, sleep: clock.sleep });
    expect(pacer.slowDown()).toBeCloseTo(28);
    clock.advance(499);
    expect(pacer.slowDown()).toBeCloseTo(28);
    clock.advance(1);
    expect(pacer.slowDown()).toBeCloseTo(19.6);
  });

  it('keeps a configured rate below 1/s as its floor', () => {
    const pacer = createPacer({ ratePerSec: 0.5, now: () => 0 });
    expect(pacer.slowDown()).toBe(0.5);
  });

  it('recovers by time: after 500 ms with no throttle, doubling per second of success, never above the configured rate', () => {
    let t = 10_000;
    const pacer = createPacer({ ratePerSec: 40, now: () => t });
    pacer.recordSuccess();
    expect(pacer.rate).toBe(40); // at the ceiling nothing changes
    expect(pacer.slowDown(0.5)).toBe(20);
    t += 500;
    pacer.recordSuccess(); // the quiet period: no growth yet
    expect(pacer.rate).toBe(20);
    t += 500;
    pacer.recordSuccess();
    expect(pacer.rate).toBeCloseTo(20 * Math.SQRT2, 6);
    t += 500;
    pacer.recordSuccess();
    expect(pacer.rate).toBeCloseTo(40, 6);
    t += 5000;
    pacer.recordSuccess();
    expect(pacer.rate).toBe(40);
    // Throttling that goes on brings the rate down to the floor: no growth in between.
    for (let i = 0; i < 12; i += 1) {
      t += 500;
      pacer.recordSuccess();
      pacer.slowDown();
    }
    expect(pacer.rate).toBe(1);
    // From the 1/s floor, 40/s is back within 6 s of success (0.5 s quiet, then 2^5.33 = 40).
    for (let ms = 0; ms < 6000; ms += 100) {
      t += 100;
      pacer.recordSuccess();
    }
    expect(pacer.rate).toBe(40);
  });

  it('spaces sends at the slower rate right after slowDown and stays within the ceiling while recovering', async () => {
    const clock = new FakeClock();
    const pacer = createPacer({ ratePerSec: 10, concurrency: 4, now: clock.now, sleep: clock.sleep });
    const random = seededRandom(42);
    let slowedAt = -1;
    const { starts } = await drive(
      clock,
      pacer,
      400,
      4,
      () => 20 + random() * 130,
      (i) => {
        if (i === 100 || i === 101 || i === 102) {
          pacer.slowDown();
          if (slowedAt < 0) slowedAt = clock.now();
        } else pacer.recordSuccess();
      },
    );
    expect(busiestWindow(starts)).toBeLessThanOrEqual(10);
    // Slowed to 5/s and growing back (doubling per second of success): the second after the
    // slow-down holds at most ∫ 5 × 2^t dt over one second ≈ 7 starts, not 10.
    const inSecondAfter = starts.filter((t) => t >= slowedAt && t < slowedAt + 1000);
    expect(inSecondAfter.length).toBeLessThanOrEqual(7);
    expect(pacer.rate).toBe(10); // recovered by the end
  });
});

describe('createPacer: concurrency and closing', () => {
  it('holds callers beyond the concurrency until a place is released', async () => {
    const clock = new FakeClock();
    const pacer = createPacer({ ratePerSec: 1000, concurrency: 2, now: clock.now, sleep: clock.sleep });
    const a = await clock.runUntil(pacer.place());
    const b = await clock.runUntil(pacer.place());
    let thirdStarted = false;
    const third = pacer.place().then((p) => {
      thirdStarted = true;
      return p;
    });
    await new Promise((r) => setImmediate(r));
    expect(thirdStarted).toBe(false);
    expect(pacer.inFlight).toBe(2);
    a.release();
    a.release(); // idempotent
    const c = await clock.runUntil(third);
    expect(thirdStarted).toBe(true);
    expect(pacer.inFlight).toBe(2);
    b.release();
    c.release();
    expect(pacer.inFlight).toBe(0);
  });

  it('rejects waiting and later callers, and a slot asked for, once closed', async () => {
    const clock = new FakeClock();
    const pacer = createPacer({ ratePerSec: 5, concurrency: 1, now: clock.now, sleep: clock.sleep });
    const first = await clock.runUntil(pacer.place());
    const waiting = pacer.place();
    pacer.close();
    await expect(waiting).rejects.toBeInstanceOf(PacerClosedError);
    await expect(pacer.place()).rejects.toBeInstanceOf(PacerClosedError);
    await expect(first.start()).rejects.toBeInstanceOf(PacerClosedError);
    expect(pacer.inFlight).toBe(0);
  });

  it('run() releases the place when the send throws', async () => {
    const clock = new FakeClock();
    const pacer = createPacer({ ratePerSec: 100, concurrency: 1, now: clock.now, sleep: clock.sleep });
    await expect(clock.runUntil(pacer.run(async () => Promise.reject(new Error('boom'))))).rejects.toThrow('boom');
    expect(pacer.inFlight).toBe(0);
    await expect(clock.runUntil(pacer.run(async () => 'ok'))).resolves.toBe('ok');
  });

  it('place() holds a place during the preparation and paces start(): slow preparations do not bunch the sends', async () => {
    const clock = new FakeClock();
    const pacer = createPacer({ ratePerSec: 10, concurrency: 3, now: clock.now, sleep: clock.sleep });
    const starts: number[] = [];
    let maxPlaces = 0;
    // Preparation (the ledger mark) takes 0 to 250 ms of fake time, the send 50 ms.
    const prep = [0, 250, 10, 200, 0, 120, 30, 250, 5, 80, 0, 190];
    const one = async (i: number) => {
      const place = await pacer.place();
      maxPlaces = Math.max(maxPlaces, pacer.inFlight);
      try {
        await clock.sleep(prep[i]!);
        await place.start();
        starts.push(clock.now());
        await clock.sleep(50);
      } finally {
        place.release();
      }
    };
    await clock.runUntil(Promise.all(prep.map((_, i) => one(i))));
    expect(maxPlaces).toBeLessThanOrEqual(3);
    expect(starts).toHaveLength(prep.length);
    // What is paced is the start: never more than the rate in any second, never closer than the interval.
    expect(busiestWindow(starts)).toBeLessThanOrEqual(10);
    const sorted = [...starts].sort((a, b) => a - b);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i]! - sorted[i - 1]!).toBeGreaterThanOrEqual(100 - 1e-9);
  });

  it('a place released without start() frees it for the next caller, and start() twice or after release is refused', async () => {
    const clock = new FakeClock();
    const pacer = createPacer({ ratePerSec: 100, concurrency: 1, now: clock.now, sleep: clock.sleep });
    const skipped = await clock.runUntil(pacer.place());
    expect(pacer.inFlight).toBe(1);
    let nextGotPlace = false;
    const next = pacer.place().then((p) => {
      nextGotPlace = true;
      return p;
    });
    await new Promise((r) => setImmediate(r));
    expect(nextGotPlace).toBe(false);
    skipped.release(); // e.g. the subscriber left the list: no slot is used
    await expect(skipped.start()).rejects.toThrow(/after the place was released/);
    const p = await clock.runUntil(next);
    const permit = await clock.runUntil(p.start());
    await expect(p.start()).rejects.toThrow(/twice/);
    permit.release();
    p.release(); // idempotent with the permit's release
    expect(pacer.inFlight).toBe(0);
  });
});

describe('createPacer: adaptive places (Little\'s law), no concurrency to tune', () => {
  /** Like the engine: a place, then `prep` ms (the ledger mark), the slot, `send` ms (SES), `after` ms (the outcome's write). */
  async function engineLike(clock: FakeClock, pacer: Pacer, total: number, prep: () => number, send: () => number, after: () => number) {
    const starts: number[] = [];
    let peakPlaces = 0;
    await clock.runUntil(
      Promise.all(
        Array.from({ length: total }, async () => {
          const place = await pacer.place();
          // As the send loop measures its peakConcurrency.
          peakPlaces = Math.max(peakPlaces, pacer.inFlight);
          try {
            await clock.sleep(prep());
            await place.start();
            starts.push(clock.now());
            await clock.sleep(send());
            pacer.recordSuccess();
            await clock.sleep(after());
          } finally {
            place.release();
          }
        }),
      ),
    );
    return { starts, peakPlaces };
  }

  it.each([
    { rate: 6, rtt: 1 },
    { rate: 14, rtt: 90 },
    { rate: 50, rtt: 20 },
    { rate: 200, rtt: 90 },
  ])('keeps $rate/s with the database $rtt ms away and SES answering in 40-400 ms, with as many places as that needs', async ({ rate, rtt }) => {
    const clock = new FakeClock();
    const ceiling = Math.max(4, rate);
    const pacer = createPacer({ ratePerSec: rate, maxConcurrency: ceiling, now: clock.now, sleep: clock.sleep });
    const random = seededRandom(rate + rtt);
    const ses = () => (random() < 0.05 ? 400 : 40 + random() * 80);
    const n = rate * 30;
    const { starts, peakPlaces } = await engineLike(clock, pacer, n, () => rtt, ses, () => rtt);
    expect(busiestWindow(starts)).toBeLessThanOrEqual(rate);
    // The whole run within 2% of N / rate (the first send goes at once).
    expect(starts[starts.length - 1]! - starts[0]!).toBeLessThanOrEqual(((n - 1) * 1000 * 1.02) / rate);
    // Little's law: about rate × (2 rtt + SES ≈ 100 ms) places, never more than the ceiling.
    expect(peakPlaces).toBeLessThanOrEqual(ceiling);
    expect(pacer.limit).toBeGreaterThanOrEqual(Math.min(ceiling, Math.ceil((rate * (2 * rtt + 80)) / 1000)));
  });

  it('never holds more places than the ceiling, whatever the latency: the ceiling bounds a crash\'s unknown', async () => {
    const clock = new FakeClock();
    const pacer = createPacer({ ratePerSec: 50, maxConcurrency: 5, now: clock.now, sleep: clock.sleep });
    const { peakPlaces } = await engineLike(clock, pacer, 300, () => 200, () => 300, () => 200);
    expect(peakPlaces).toBe(5);
    expect(pacer.limit).toBe(5);
  });

  it('gives one place at a time when one suffices (6/s, a fast database and SES)', async () => {
    const clock = new FakeClock();
    const pacer = createPacer({ ratePerSec: 6, maxConcurrency: 6, now: clock.now, sleep: clock.sleep });
    await engineLike(clock, pacer, 60, () => 1, () => 20, () => 1);
    expect(pacer.limit).toBe(2); // ceil(6/s × ~22 ms) + 1
    expect(pacer.latencyMs).toBeCloseTo(22, 0);
  });

  it('narrows the places on failures in a row: a send failing from the first message fails at most failureBudget times before a breaker at that count trips', async () => {
    const clock = new FakeClock();
    const pacer = createPacer({ ratePerSec: 1000, maxConcurrency: 1000, failureBudget: 10, now: clock.now, sleep: clock.sleep });
    let failures = 0;
    let stopped = false;
    let startedSends = 0;
    await clock.runUntil(
      Promise.all(
        Array.from({ length: 200 }, async () => {
          const place = await pacer.place();
          try {
            if (stopped) return;
            await place.start();
            startedSends += 1;
            await clock.sleep(5);
            failures += 1;
            pacer.recordFailure();
            if (failures >= 10) stopped = true;
          } finally {
            place.release();
          }
        }),
      ),
    );
    expect(startedSends).toBe(10);
    expect(pacer.limit).toBe(1);
    // One success opens the places again (to what the rate and the latency need).
    pacer.recordSuccess();
    expect(pacer.limit).toBeGreaterThan(1);
  });
});
