import type { BeginSendDecision, LeaseRun, SendResult } from '../db/ledger';

/**
 * The send engine's ledger writes, in trips: one call of send_trip (one transaction) carries
 * every outcome handed in since the last trip and the marks of the next messages, so a group
 * of messages costs one round trip instead of two per message. Nobody waits for a timer: a
 * trip goes as soon as the previous one is back and something is due (below).
 *
 * - A message is sent only once its own mark is committed, and only on `send`.
 * - Marks ahead: a trip also marks the next claimed rows (in the order they were claimed, the
 *   order in which they begin) up to `MarkAhead.rows`, so that the next messages find their
 *   mark already made and no trip is needed for each. The loop sizes that to the pace, within
 *   its ceiling of the places in flight (lib/send/loop.ts `markAhead`).
 * - An outcome rides the next trip. Every trip takes every outcome handed in so far, so the
 *   rows marked and not recorded after a trip are the rows holding a place when it was taken
 *   plus those marked ahead: never more than the loop's ceiling, which is what a crash can
 *   leave `unknown` (`peakUnrecorded` is the most there were after any trip).
 * - A trip that fails rejects its marks (the caller hands those rows back); its outcomes go
 *   once more in the next trip, so that a fault in a write that also marks loses no outcome.
 * - A row marked ahead and handed back unsent (`queued`: a pause, a stop, a mark too old)
 *   goes back to the queue in the ledger, never to `unknown`.
 *
 * What is due: a begin that found no mark made ahead, once the marked messages in front of it
 *  (begun and waiting for their slot, or marked ahead) are down to two trips' time of sending (so that
 *  begins arriving one by one, as places free, go together), or with `gather` once none awaits
 *  SES (the places, not the pace, are the limit: the answers then come back to one trip, with
 *  the marks of the places they free); marks ahead running low (the same two trips' time, at
 *  most half of `rows`); outcomes when nothing is left to mark (no trip for a
 *  mark would come to carry them), when OUTCOMES_ALONE of them wait, when the oldest has
 *  waited OUTCOME_WAIT_MS (so an answered message is in the ledger within about a second,
 *  whatever the marks do), or on `drain`.
 */

/** begin's decision for one id, and when (by the caller's clock) the request that made it was sent. */
export interface Mark {
  decision: BeginSendDecision;
  /** The lease is surely this run's until requestedAt + the lease (the trip extends it). */
  requestedAt: number;
}

/** How the loop wants marks taken, read when a trip is taken. */
export interface MarkAhead {
  /** How many claimed rows may be marked before their begin, at most (0: none). */
  rows: number;
  /** Hold a begin until no marked message awaits SES (see above). */
  gather: boolean;
  /** Messages per second now: how fast marks ahead are used up. */
  rate: number;
}

export interface SendTrips {
  /** Rows just claimed, in the order they will begin: marks ahead are taken from them. */
  claimed(subscriberIds: string[]): void;
  /** Resolves once this row's mark is committed; rejects if the trip failed. */
  begin(subscriberId: string, ahead: () => MarkAhead): Promise<Mark>;
  /** This row's message has taken its slot: it no longer stands in front of the next begins. */
  started(subscriberId: string): void;
  /** Hands an outcome to the next trip (synchronously); resolves once it is committed. */
  record(result: SendResult): Promise<void>;
  /** Resolves once everything handed in so far is written (or has failed). */
  drain(): Promise<void>;
  /** The most rows marked and not recorded in the ledger after any trip. */
  peakUnrecorded(): number;
}

/** Outcomes waiting alone are written once this many have gathered, */
export const OUTCOMES_ALONE = 64;
/** or once the oldest has waited this long for a trip (SES hanging on every place, say). */
export const OUTCOME_WAIT_MS = 1000;

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (err: unknown) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  // Whoever awaits it sees the rejection; a mark made ahead that nobody takes must not crash the process.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

export function createSendTrips(leaseRun: LeaseRun, now: () => number): SendTrips {
  /** Claimed, never marked, not handed back: where marks ahead come from, in order. */
  const unmarked = new Set<string>();
  /** Marked ahead (or being marked), not begun yet. */
  const ahead = new Map<string, Deferred<Mark>>();
  /** Begun with `send`, outcome not handed in yet; of those, the ones still waiting for their slot. */
  const awaitingSes = new Set<string>();
  const awaitingSlot = new Set<string>();
  /** Marked `send` in a committed trip, not recorded in a committed trip: what a crash leaves unknown. */
  const unrecorded = new Set<string>();
  let peak = 0;
  let begins: { id: string; mark: Deferred<Mark> }[] = [];
  let outcomes: { result: SendResult; done: Deferred<void>; retried?: boolean }[] = [];
  let policy: () => MarkAhead = () => ({ rows: 0, gather: false, rate: 1 });
  /** How long a trip takes, smoothed (ms): how early to mark ahead again. */
  let tripMs = 0;
  let draining = false;
  let overdue = false;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let trip: Promise<void> | null = null;

  function due(): boolean {
    const { rows, rate, gather } = policy();
    // Marked messages are used up at the rate: keep two trips' worth in front.
    const lowWater = Math.ceil((rate * 2 * tripMs) / 1000) + 1;
    if (begins.length > 0 && (gather ? awaitingSes.size === 0 : awaitingSlot.size + ahead.size <= lowWater)) return true;
    if (rows > 0 && unmarked.size > 0 && ahead.size <= Math.min(rows / 2, lowWater)) return true;
    if (outcomes.length === 0) return false;
    return draining || overdue || outcomes.length >= OUTCOMES_ALONE || (unmarked.size === 0 && ahead.size === 0 && begins.length === 0);
  }

  function kick(): void {
    if (!trip && due()) trip = run();
  }

  async function run(): Promise<void> {
    while (due()) await take();
    trip = null;
  }

  async function take(): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = null;
    overdue = false;
    const asked = begins;
    const given = outcomes;
    begins = [];
    outcomes = [];
    const early: { id: string; mark: Deferred<Mark> }[] = [];
    const room = policy().rows - ahead.size;
    for (const id of unmarked) {
      if (early.length >= room) break;
      early.push({ id, mark: deferred<Mark>() });
    }
    for (const e of early) {
      unmarked.delete(e.id);
      ahead.set(e.id, e.mark);
    }
    const marks = [...asked, ...early];
    const requestedAt = now();
    try {
      const r = await leaseRun.trip(marks.map((m) => m.id), given.map((g) => g.result));
      const took = now() - requestedAt;
      tripMs = tripMs === 0 ? took : 0.75 * tripMs + 0.25 * took;
      for (const g of given) {
        unrecorded.delete(g.result.subscriberId);
        g.done.resolve();
      }
      marks.forEach((m, i) => {
        const decision = r.decisions[i]!;
        if (decision === 'send') unrecorded.add(m.id);
        if (decision === 'send' && i < asked.length) {
          awaitingSes.add(m.id);
          awaitingSlot.add(m.id);
        }
        m.mark.resolve({ decision, requestedAt });
      });
      peak = Math.max(peak, unrecorded.size);
    } catch (err) {
      for (const m of marks) m.mark.reject(err);
      // An outcome is retried once, in the next trip: whether or not this one committed, it
      // changes only rows still sending under this lease, so a second write changes nothing twice.
      const retry = given.filter((g) => !g.retried);
      for (const g of given) if (g.retried) g.done.reject(err);
      for (const g of retry) g.retried = true;
      outcomes = [...retry, ...outcomes];
    }
  }

  return {
    claimed(ids) {
      for (const id of ids) unmarked.add(id);
    },
    begin(id, wanted) {
      policy = wanted;
      const made = ahead.get(id);
      if (made) {
        ahead.delete(id);
        kick(); // marks ahead may be running low
        return made.promise.then((mark) => {
          if (mark.decision === 'send') {
            awaitingSes.add(id);
            awaitingSlot.add(id);
          }
          return mark;
        });
      }
      unmarked.delete(id);
      const mark = deferred<Mark>();
      begins.push({ id, mark });
      kick();
      return mark.promise;
    },
    started(id) {
      awaitingSlot.delete(id);
      kick();
    },
    record(result) {
      const id = result.subscriberId;
      unmarked.delete(id);
      ahead.delete(id);
      awaitingSes.delete(id);
      awaitingSlot.delete(id);
      const done = deferred<void>();
      outcomes.push({ result, done });
      kick();
      if (!timer) {
        timer = setTimeout(() => {
          timer = null;
          overdue = true;
          kick();
        }, OUTCOME_WAIT_MS);
        timer.unref?.();
      }
      return done.promise;
    },
    async drain() {
      draining = true;
      kick();
      while (trip) await trip;
      draining = false;
    },
    peakUnrecorded: () => peak,
  };
}
