import type { BatchRecipient, FinishResult, SendResult } from '../db/ledger';
import { isAppError } from '../errors';
import { autoPauseReason } from '../feedback/store';
import { log } from '../log';
import { classifySesError, DEFAULT_REQUEST_TIMEOUT_MS, isSesError, SesError, type Place } from '../ses';
import type { MailoutReporter } from '../mailout-reporter';
import type { LoopStore } from './loop-store';
import type { MarkAhead } from './recorder';
import { outcomeOf } from './outcome';
import type { RecipientSender } from './recipient-sender';

/**
 * The send loop of one invocation, in steps that share one `RunState`: claim a batch
 * (`claimNext`), send each message on the pacer's schedule and record its outcome as soon as
 * SES answers (`sendOne`; an SES error's meaning is `outcomeOf`), count each batch
 * (`settleBatch`), repeat, and end in the ledger (`finishRun`); stop before the deadline
 * (release the lease for a fresh invocation), on an account-level SES error or a run of
 * failures (pause), or when the bounce or complaint rate crosses SES's review thresholds (pause).
 * It reaches the ledger only through a `LoopStore` and SES only through a `RecipientSender`
 * (both built by lib/send/start.ts).
 *
 * Batches overlap: the next batches are claimed while earlier ones are still going out, and
 * their messages queue at the pacer behind the earlier ones, so the places never sit idle
 * waiting for a batch's slowest answer or for a claim's round trip. As many batches are kept
 * claimed as the places in flight need (see `rowsAhead`). (When the reporter shows progress,
 * every PROGRESS_EVERY_BATCHES-th batch finishes before the next is claimed, so the counts it
 * reports are the ledger's after exactly those batches.)
 *
 * Concurrency finds itself: the pacer holds rate × (the time a message holds its place: mark,
 * SES) places, Little's law, within a ceiling (SEND_CONCURRENCY, or by default one second of
 * sending, at least 4). The ledger is written in trips (lib/send/recorder.ts): one call marks
 * the next messages and records the outcomes handed in since the last, and marks up to
 * `markAhead` rows before their turn, so that at 50/s and more a trip carries a group.
 *
 * What a crash can leave `unknown`: the rows marked and not recorded, never more than the
 * ceiling. A place is held from its row's mark until its outcome is handed to the next trip;
 * every trip takes every outcome handed in, so after a trip the unrecorded rows are those
 * holding a place when it was taken plus those marked ahead, and marks ahead are only taken
 * from the ceiling less the places held. With SEND_CONCURRENCY unset, at rate r/s and mark
 * group g = min(MAX_MARK_GROUP, ceil(r × MARK_AHEAD_SECONDS)): at most max(4, ceil(r)) rows,
 * of which at most g marked ahead of their send (the rest in flight at SES); with
 * SEND_CONCURRENCY = c, at most c. On a pause, marks not yet sent go back to the queue, not to
 * `unknown`; on any stop, the rows not yet at their place go back unmarked.
 */

/** The loop's own settings, for one run. */
export interface LoopSettings {
  mailoutId: string;
  batchSize: number;
  /** The ceiling of the places in flight (`concurrencyCeiling`), as the pacer was built with. */
  maxConcurrency: number;
  leaseSeconds: number;
  /** Epoch ms by which this invocation must have released the lease. */
  deadline: number;
  /** Keep this much time in hand before the deadline (ms). */
  safetyMarginMs: number;
}

export interface LoopDeps {
  store: LoopStore;
  sender: RecipientSender;
  settings: LoopSettings;
  reporter: MailoutReporter;
  /** The run's own clock, epoch ms: the deadline and the lease guard read it. */
  clock: { now(): number };
}

export type LoopOutcome = 'complete' | 'released' | 'paused' | 'lease_lost';

export interface LoopSummary {
  mailoutId: string;
  outcome: LoopOutcome;
  /** Sent, failed, unknown in this invocation. */
  sent: number;
  failed: number;
  unknown: number;
  batches: number;
  durationMs: number;
  reason?: string;
  final?: FinishResult;
  /**
   * The most messages that were marked (the mark committed) and not yet recorded at once:
   * what a crash at the worst moment of this invocation would have left `unknown`.
   */
  peakUnrecorded: number;
  /** The ceiling of the places in flight, and the most the pacer allowed at once. */
  maxConcurrency: number;
  peakConcurrency: number;
}

export { MAX_CONSECUTIVE_FAILURES } from './outcome';
const PROGRESS_EVERY_BATCHES = 5;
/**
 * The bounce and complaint rates are read after a batch, but at most this often: feedback
 * from SES arrives seconds to minutes after a send anyway (the read is one row, the
 * mailout's counters). (At 6/s a batch of 50 takes 8 s: every batch is checked.)
 */
export const FEEDBACK_CHECK_EVERY_MS = 1000;

/**
 * With SEND_CONCURRENCY unset, the places in flight may grow to this many seconds of sending
 * (at least MIN_AUTO_CONCURRENCY): enough for a database 100 ms away and SES's slow tail,
 * and a crash leaves at most about a second's worth of messages `unknown`.
 */
export const AUTO_CONCURRENCY_SECONDS = 1;
export const MIN_AUTO_CONCURRENCY = 4;

/**
 * Rows are marked ahead of their send by up to this much sending (at 50/s, 50 rows: about one
 * trip per 40 messages), at most MAX_MARK_GROUP, and only within the ceiling less the places
 * held: the headroom between the places the pace needs and the ceiling, which stays the bound.
 */
export const MARK_AHEAD_SECONDS = 1;
export const MAX_MARK_GROUP = 100;

const markGroup = (rate: number) => Math.min(MAX_MARK_GROUP, Math.ceil(rate * MARK_AHEAD_SECONDS));

/**
 * How the next trip may mark ahead: rows for MARK_AHEAD_SECONDS of sending, within the
 * ceiling less the places held (so that marked and not recorded never passes the ceiling).
 * When the places, not the pace, are the limit (rate × the time a place is held reaches the
 * places), a begin waits for the answers still out, which free places whose next marks then
 * go in the same trip.
 */
export function markAhead(state: RunState): MarkAhead {
  const { pacer } = state.deps.sender;
  return {
    rows: Math.max(0, Math.min(markGroup(pacer.rate), state.deps.settings.maxConcurrency - pacer.inFlight)),
    gather: (pacer.rate * pacer.latencyMs) / 1000 >= pacer.limit,
    rate: pacer.rate,
  };
}

/** The ceiling of the places in flight: SEND_CONCURRENCY, or one second of sending. */
export function concurrencyCeiling(configured: number | undefined, rate: number): number {
  return configured ?? Math.max(MIN_AUTO_CONCURRENCY, Math.ceil(rate * AUTO_CONCURRENCY_SECONDS));
}

/**
 * A mark is acted upon only until its request was sent + the lease − this margin: room for
 * the SES request itself to arrive (its timeout) and for clocks that drift, at most half the lease.
 */
export function leaseGuardMarginMs(leaseSeconds: number): number {
  return Math.min(DEFAULT_REQUEST_TIMEOUT_MS + 2_000, (leaseSeconds * 1000) / 2);
}

class Stop {
  reason: string | null = null;
  kind: 'paused' | 'lease_lost' | 'error' | null = null;
  error: unknown = null;
  pause(reason: string): void {
    if (!this.reason) {
      this.reason = reason;
      this.kind = 'paused';
    }
  }
  loseLease(): void {
    if (!this.reason) {
      this.reason = 'another invocation took over the mailout';
      this.kind = 'lease_lost';
    }
  }
  /**
   * The ledger could not be written: send nothing more in this invocation. A pause already
   * decided stands (the mailout must wait for a person, not for the cron), with the error kept.
   */
  fail(err: unknown): void {
    this.error ??= err;
    if (this.kind === 'paused' || this.kind === 'error') return;
    this.kind = 'error';
    this.reason = 'the ledger could not be written';
  }
  get stopped(): boolean {
    return this.reason !== null;
  }
}

/** What became of one claimed row: an outcome for the ledger, or skipped / lost at its mark. */
export type RowOutcome = SendResult | { subscriberId: string; status: 'skipped' | 'lost' };
const isResult = (o: RowOutcome): o is SendResult => o.status !== 'skipped' && o.status !== 'lost';

interface BatchRun {
  batch: BatchRecipient[];
  number: number;
  started: number;
  outcomes: Promise<RowOutcome[]>;
  done: boolean;
}

/** Everything one run's steps share. */
export interface RunState {
  readonly deps: LoopDeps;
  readonly stop: Stop;
  readonly summary: LoopSummary;
  readonly started: number;
  /** A mark is sent on only until its request time + this (ms). */
  readonly leaseUsableMs: number;
  /** Marked and not yet recorded: what a crash now would leave `unknown`. */
  unrecorded: number;
  readonly failedRows: { email: string; code: string; message: string }[];
  /** The batches going out, oldest first, while the next one is claimed. */
  readonly going: BatchRun[];
  /** Claimed rows whose send and record have not finished yet. */
  outstanding: number;
  onRowDone: (() => void) | null;
  /** Some row went back to the queue (SES retries ran out) since the flag was cleared. */
  handedBack: boolean;
  /** A claim came back empty: what is going out is seen through before looking again. */
  draining: boolean;
  lastFeedbackCheck: number;
  /** How long a claim takes, smoothed (how far ahead to claim). */
  claimMs: number;
}

export function createRunState(deps: LoopDeps): RunState {
  const { settings } = deps;
  return {
    deps,
    stop: new Stop(),
    summary: {
      mailoutId: settings.mailoutId,
      outcome: 'complete',
      sent: 0,
      failed: 0,
      unknown: 0,
      batches: 0,
      durationMs: 0,
      peakUnrecorded: 0,
      maxConcurrency: settings.maxConcurrency,
      peakConcurrency: 0,
    },
    started: deps.clock.now(),
    leaseUsableMs: settings.leaseSeconds * 1000 - leaseGuardMarginMs(settings.leaseSeconds),
    unrecorded: 0,
    failedRows: [],
    going: [],
    outstanding: 0,
    onRowDone: null,
    handedBack: false,
    draining: false,
    lastFeedbackCheck: Number.NEGATIVE_INFINITY,
    claimMs: 0,
  };
}

/** Claims the next batch, and learns how long a claim takes (how far ahead to claim). */
export async function claimNext(state: RunState): Promise<BatchRecipient[]> {
  const { store, settings, clock } = state.deps;
  const claimStarted = clock.now();
  const batch = await store.claim(settings.batchSize);
  const took = clock.now() - claimStarted;
  state.claimMs = state.claimMs === 0 ? took : 0.75 * state.claimMs + 0.25 * took;
  return batch;
}

/**
 * One claimed row, from its place at the pacer to its outcome in the ledger. The place is held
 * from the mark until the outcome is handed to the ledger's next trip, which takes every
 * outcome handed in: a crash leaves at most maxConcurrency rows marked and not recorded, so
 * at most that many `unknown`, however slow the ledger is (see the top of this file).
 */
export async function sendOne(state: RunState, r: BatchRecipient): Promise<RowOutcome> {
  const { sender } = state.deps;
  if (state.stop.stopped) return record(state, { subscriberId: r.subscriberId, status: 'queued' });
  const place = await sender.pacer.place();
  state.summary.peakConcurrency = Math.max(state.summary.peakConcurrency, sender.pacer.inFlight);
  const mark = { committed: false };
  let recorded: Promise<RowOutcome>;
  try {
    const outcome = await markAndSend(state, r, place, mark);
    // Handed in synchronously: the place is freed only once the next trip will carry it.
    recorded = record(state, outcome, mark.committed);
  } finally {
    place.release();
  }
  return recorded;
}

/** One message, from its mark to SES's answer; the caller holds its place at the pacer. */
async function markAndSend(state: RunState, r: BatchRecipient, place: Place, mark: { committed: boolean }): Promise<RowOutcome> {
  const { store, sender, clock, settings } = state.deps;
  const { stop } = state;
  let markTooOld = false;
  try {
    if (stop.stopped) return { subscriberId: r.subscriberId, status: 'queued' };
    // Marks the attempt (a crash from here on leaves this one `unknown`, never resent),
    // and rechecks that the subscriber is still on the list. Marks asked for together (the
    // places in flight) are committed together.
    let decision, sendBy: number;
    try {
      const marked = await store.begin(r.subscriberId, () => markAhead(state));
      decision = marked.decision;
      sendBy = marked.requestedAt + state.leaseUsableMs;
    } catch (err) {
      // The ledger could not be written: nothing went to SES, so the row is handed back
      // (a resume finds it queued, or `unknown` if the mark did commit), never failed.
      stop.fail(err);
      return { subscriberId: r.subscriberId, status: 'queued' };
    }
    if (decision === 'send') {
      mark.committed = true;
      state.unrecorded += 1;
      state.summary.peakUnrecorded = Math.max(state.summary.peakUnrecorded, state.unrecorded);
    }
    if (decision === 'skip') return { subscriberId: r.subscriberId, status: 'skipped' };
    if (decision === 'lost') {
      stop.loseLease();
      return { subscriberId: r.subscriberId, status: 'lost' };
    }
    // Serialized and signed before the slot: what is paced is the request leaving.
    const prepared = await sender.prepare(r);
    // The slot last, so that the pace is the pace of the requests SES sees, whatever the
    // database took above.
    await place.start();
    store.started?.(r.subscriberId);
    if (stop.kind === 'paused') {
      // Marked but never handed to SES: it goes back to the queue ('queued'). (After a lost
      // lease or a ledger fault the mark stands, and a takeover may already have counted the
      // row `unknown`, never to be sent: with its mark committed and the guard above, it goes,
      // still only once. Rows not yet at their place when the run stops go back unmarked.)
      return { subscriberId: r.subscriberId, status: 'queued' };
    }
    const out = await sender.send(prepared, place, () => {
      // By this run's own clock the lease may have passed since the mark: a takeover may
      // have settled the row already, so nothing is sent on it (and it is not retried).
      if (clock.now() >= sendBy) {
        markTooOld = true;
        throw new SesError({ kind: 'recipient', code: 'lease_guard', message: 'the mark may have outlived the lease', throttled: false, maybeDelivered: false });
      }
    });
    sender.pacer.recordSuccess();
    return { subscriberId: r.subscriberId, status: 'sent', sesMessageId: out.MessageId ?? null };
  } catch (err) {
    if (markTooOld) {
      // Never reached SES (any earlier attempt was refused before SES took it): handed back,
      // which changes the row only if it is still this run's.
      log.warn('send.mark_outlived_lease', { mailout_id: settings.mailoutId, subscriber_id: r.subscriberId });
      return { subscriberId: r.subscriberId, status: 'queued' };
    }
    const o = outcomeOf(r.subscriberId, isSesError(err) ? err : classifySesError(err), sender.breaker.streak);
    if (o.failure) sender.pacer.recordFailure();
    if (o.pause) stop.pause(o.pause);
    return o.result;
  }
}

/** Hands an outcome to the ledger; a write that fails stops the run (the row stays marked). */
async function record(state: RunState, outcome: RowOutcome, marked = false): Promise<RowOutcome> {
  if (!isResult(outcome)) return outcome;
  try {
    await state.deps.store.record(outcome);
  } catch (err) {
    state.stop.fail(err);
  } finally {
    if (marked) state.unrecorded -= 1;
  }
  return outcome;
}

async function sendOneCounted(state: RunState, r: BatchRecipient): Promise<RowOutcome> {
  try {
    return await sendOne(state, r);
  } finally {
    state.outstanding -= 1;
    const wake = state.onRowDone;
    state.onRowDone = null;
    wake?.();
  }
}

const rowDone = (state: RunState) => new Promise<void>((resolve) => (state.onRowDone = resolve));

/** Sets a claimed batch going: its messages queue at the pacer behind those still going out. */
export function startBatch(state: RunState, batch: BatchRecipient[]): void {
  state.outstanding += batch.length;
  state.summary.batches += 1;
  // Every sendOne settles (failures become outcomes), so this never rejects.
  const run: BatchRun = {
    batch,
    number: state.summary.batches,
    started: state.deps.clock.now(),
    outcomes: Promise.all(batch.map((r) => sendOneCounted(state, r))),
    done: false,
  };
  void run.outcomes.then(() => (run.done = true));
  state.going.push(run);
}

const isCheckpoint = (state: RunState, run: BatchRun) => state.deps.reporter.wantsProgress !== false && run.number % PROGRESS_EVERY_BATCHES === 0;

/** Waits for the oldest batch going out to finish, counts it, and runs the checks between batches. */
export async function settleBatch(state: RunState): Promise<void> {
  const { store, reporter, clock, settings, sender } = state.deps;
  const { summary, stop } = state;
  const run = state.going.shift()!;
  const outcomes = await run.outcomes;
  const results = outcomes.filter(isResult);
  for (const res of results) {
    if (res.status === 'sent') summary.sent += 1;
    else if (res.status === 'failed') {
      summary.failed += 1;
      const email = run.batch.find((b) => b.subscriberId === res.subscriberId)?.email ?? '';
      state.failedRows.push({ email, code: res.errorCode, message: res.errorMessage });
    } else if (res.status === 'unknown') summary.unknown += 1;
  }
  log.info('send.batch', {
    mailout_id: settings.mailoutId,
    batch: run.number,
    size: run.batch.length,
    sent: results.filter((r) => r.status === 'sent').length,
    failed: results.filter((r) => r.status === 'failed').length,
    requeued: results.filter((r) => r.status === 'queued').length,
    rate: Number(sender.pacer.rate.toFixed(2)),
    duration_ms: clock.now() - run.started,
  });
  if (results.some((res) => res.status === 'queued')) state.handedBack = true;
  if (stop.stopped) return;

  // Draining after an empty claim there is nothing left to pause: no check on the way out.
  if (clock.now() - state.lastFeedbackCheck >= FEEDBACK_CHECK_EVERY_MS && !state.draining) {
    state.lastFeedbackCheck = clock.now();
    // Unreadable statistics stop the run (a ledger fault), never switch the auto-pause off.
    const pauseReason = autoPauseReason(await store.stats());
    if (pauseReason) {
      stop.pause(pauseReason);
      return;
    }
  }
  if (isCheckpoint(state, run)) await reporter.progress(settings.mailoutId, await store.counts());
}

/**
 * Rows kept claimed and not finished: every place the pacer allows, the messages that go out
 * during one claim's round trip, a batch, and the rows that may be marked ahead (`markAhead`). The next batch is claimed as soon as fewer are
 * left, whether or not the oldest batch has finished: a batch waits for its slowest answer
 * (SES's p99 is 400 ms; one in 100 messages), and waiting for it before claiming more would
 * leave the places idle at 200/s.
 */
function rowsAhead(state: RunState): number {
  const { pacer } = state.deps.sender;
  return pacer.limit + Math.ceil(pacer.rate * (state.claimMs / 1000)) + state.deps.settings.batchSize + markAhead(state).rows;
}

/** Whether the next batch would not fit before the deadline, after the batches still going out. */
function outOfTime(state: RunState): boolean {
  const { settings, clock, sender } = state.deps;
  const needMs = ((state.outstanding + settings.batchSize) / Math.max(sender.pacer.rate, 0.1)) * 1000 + settings.safetyMarginMs;
  return settings.deadline - clock.now() < needMs;
}

/** Claims and sends batch after batch until the queue is empty, the time is up, or the run stops. */
async function sendBatches(state: RunState): Promise<void> {
  const { going, stop, summary } = state;
  for (;;) {
    if (going.length > 0 && isCheckpoint(state, going[going.length - 1]!)) {
      // The progress counts must be those of the ledger after exactly these batches.
      while (going.length > 0 && !stop.stopped) await settleBatch(state);
      if (stop.stopped) return;
    }
    // Always make progress: the first batch goes whatever the clock says.
    if (summary.batches > 0 && outOfTime(state)) {
      summary.outcome = 'released';
      summary.reason = 'time budget reached';
      return;
    }
    const batch = await claimNext(state);
    if (batch.length === 0) {
      if (going.length === 0) return;
      // The batches still going out may hand rows back (SES retries ran out): see them
      // through, and look again only if one did (a last empty claim would cost a round
      // trip at the end of every run).
      state.handedBack = false;
      state.draining = true;
      while (going.length > 0 && !stop.stopped) await settleBatch(state);
      state.draining = false;
      if (stop.stopped || !state.handedBack) return;
      continue;
    }
    startBatch(state, batch);
    // Count the batches that have finished (in order), and claim again once the rows
    // still going out are fewer than the places need.
    for (;;) {
      while (going.length > 0 && going[0]!.done && !stop.stopped) await settleBatch(state);
      if (stop.stopped || state.outstanding < rowsAhead(state)) break;
      await rowDone(state);
    }
    if (stop.stopped) return;
  }
}

/** Ends this invocation in the ledger: paused, released for a fresh invocation, or complete. */
export async function finishRun(state: RunState): Promise<FinishResult | undefined> {
  const { stop, summary } = state;
  const { store } = state.deps;
  if (stop.kind === 'lease_lost') {
    summary.outcome = 'lease_lost';
    summary.reason = stop.reason!;
    return undefined;
  }
  if (stop.stopped) {
    summary.outcome = 'paused';
    summary.reason = stop.reason!;
    return store.finish('paused', stop.reason);
  }
  return store.finish(summary.outcome === 'released' ? 'released' : 'complete');
}

/** Tells the reporter how the run went: the failed rows, and the final counts. */
async function reportRun(state: RunState): Promise<void> {
  const { summary, failedRows } = state;
  const { reporter, store, settings } = state.deps;
  if (failedRows.length) {
    const failedInAll = summary.final?.failed ?? (await store.counts().catch(() => null))?.failed ?? summary.failed;
    await reporter.errors(settings.mailoutId, failedRows, Math.max(0, failedInAll - summary.failed));
  }
  if (summary.final) await reporter.finished(settings.mailoutId, summary.final);
}

export async function runSendLoop(deps: LoopDeps): Promise<LoopSummary> {
  const state = createRunState(deps);
  const { stop, summary, going } = state;
  const { settings, store, sender, clock } = deps;
  try {
    try {
      await sendBatches(state);
    } catch (err) {
      // Send nothing more; what is in flight is seen through below, then the error goes on.
      stop.fail(err);
    } finally {
      // Whatever stopped the loop, the batches still going out finish: messages already
      // handed to SES are recorded, those not yet started go back to the queue.
      while (going.length > 0) await settleBatch(state);
      await store.drain();
    }
    if (stop.kind === 'error') throw stop.error;
    if (stop.error) log.warn('send.ledger_fault_after_pause', { mailout_id: settings.mailoutId, error: stop.error });

    summary.final = await finishRun(state);
  } catch (err) {
    if (isAppError(err, 'lease_lost')) {
      summary.outcome = 'lease_lost';
      summary.reason = 'another invocation took over the mailout';
      log.warn('send.lease_lost', { mailout_id: settings.mailoutId });
    } else {
      throw err;
    }
  } finally {
    sender.pacer.close();
    summary.durationMs = clock.now() - state.started;
    // A store that marks ahead of `begin` knows better than the loop what the ledger held.
    summary.peakUnrecorded = store.peakUnrecorded?.() ?? summary.peakUnrecorded;
  }

  await reportRun(state);
  log.info('send.invocation_done', {
    mailout_id: settings.mailoutId,
    outcome: summary.outcome,
    sent: summary.sent,
    failed: summary.failed,
    unknown: summary.unknown,
    batches: summary.batches,
    duration_ms: summary.durationMs,
    reason: summary.reason,
  });
  return summary;
}
