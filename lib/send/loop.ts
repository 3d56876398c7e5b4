import type { SESv2Client } from '@aws-sdk/client-sesv2';
import type { Config } from '../config';
import type { Db } from '../db';
import {
  claimBatch,
  finishMailout,
  mailoutCounts,
  type BatchRecipient,
  type FinishResult,
  type SendResult,
} from '../db/ledger';
import { isAppError } from '../errors';
import { autoPauseReason, mailoutFeedbackStats } from '../feedback/store';
import { log } from '../log';
import type { RenderedMailout } from '../render';
import { classifySesError, createPacer, DEFAULT_REQUEST_TIMEOUT_MS, isSesError, SesError, sendWithRetry, type Pacer, type Place } from '../ses';
import { createSendEmail } from '../ses/send-email';
import { unsubscribeUrl } from '../unsubscribe/token';
import { MAX_CONSECUTIVE_FAILURES, outcomeOf } from './outcome';
import { recipientMessage } from './recipient-message';
import { createResultRecorder, createSendStarter } from './recorder';
import type { MailoutReporter } from '../mailout-reporter';

/**
 * The send loop of one invocation, in named steps: claim a batch (`claimNext`), send each
 * message on the pacer's schedule (`sendOne`; an SES error's meaning is `outcomeOf`) and
 * record its outcome as soon as SES answers (`record`), count each batch (`settle`), repeat,
 * and end in the ledger (`finish`); stop before the deadline (release the lease for a
 * fresh invocation), on an account-level SES error or a run of failures (pause), or when
 * the bounce or complaint rate crosses SES's review thresholds (pause).
 *
 * Batches overlap: the next batches are claimed while earlier ones are still going out, and
 * their messages queue at the pacer behind the earlier ones, so the places never sit idle
 * waiting for a batch's slowest answer or for a claim's round trip. As many batches are kept
 * claimed as the places in flight need (see `rowsAhead`). (When the reporter shows progress,
 * every PROGRESS_EVERY_BATCHES-th batch finishes before the next is claimed, so the counts it
 * reports are the ledger's after exactly those batches.)
 *
 * Concurrency finds itself: the pacer holds rate × (the time a message holds its place: mark,
 * SES, outcome) places, Little's law, within a ceiling (SEND_CONCURRENCY, or by default one
 * second of sending, at least 4). A place is held from the mark until the outcome is
 * committed, so the ceiling bounds what a crash can leave `unknown`.
 */

export interface LoopDeps {
  config: Config;
  db: Db;
  ses: SESv2Client;
  reporter: MailoutReporter;
  /** Epoch ms; Date.now by default. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export interface LoopInput {
  mailoutId: string;
  leaseToken: string;
  letter: RenderedMailout;
  /** The rate to send at (the pre-flight caps it at the account's MaxSendRate). */
  rate: number;
  /** Epoch ms by which this invocation must have released the lease. */
  deadline: number;
  /** Keep this much time in hand before the deadline (ms). */
  safetyMarginMs?: number;
  leaseSeconds: number;
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
   * The most messages that were marked (begin_sends committed) and not yet recorded at once:
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

export async function runSendLoop(deps: LoopDeps, input: LoopInput): Promise<LoopSummary> {
  const now = deps.now ?? Date.now;
  const started = now();
  const { config, db, ses, reporter } = deps;
  const { mailoutId, leaseToken, letter } = input;
  const batchSize = config.sending.batchSize;
  const maxConcurrency = concurrencyCeiling(config.sending.concurrency, input.rate);
  const pacer: Pacer = createPacer({
    ratePerSec: input.rate,
    maxConcurrency,
    failureBudget: MAX_CONSECUTIVE_FAILURES,
    ...(deps.sleep ? { sleep: deps.sleep } : {}),
  });
  const stop = new Stop();
  const summary: LoopSummary = {
    mailoutId,
    outcome: 'complete',
    sent: 0,
    failed: 0,
    unknown: 0,
    batches: 0,
    durationMs: 0,
    peakUnrecorded: 0,
    maxConcurrency,
    peakConcurrency: 0,
  };
  /** Marked and not yet recorded: what a crash now would leave `unknown`. */
  let unrecorded = 0;
  let consecutiveFailures = 0;
  const failedRows: { email: string; code: string; message: string }[] = [];
  const margin = input.safetyMarginMs ?? 10_000;

  const sendEmail = createSendEmail(ses);
  const recorder = createResultRecorder(db, mailoutId, leaseToken);
  const starter = createSendStarter(db, { mailoutId, leaseToken, leaseSeconds: input.leaseSeconds }, now);
  const leaseUsableMs = input.leaseSeconds * 1000 - leaseGuardMarginMs(input.leaseSeconds);

  type Outcome = SendResult | { subscriberId: string; status: 'skipped' | 'lost' };
  const isResult = (o: Outcome): o is SendResult => o.status !== 'skipped' && o.status !== 'lost';

  /** One message, from its mark to SES's answer; the caller holds its place at the pacer. */
  async function sendOne(r: BatchRecipient, place: Place, mark: { committed: boolean }): Promise<Outcome> {
    let markTooOld = false;
    try {
      if (stop.stopped) return { subscriberId: r.subscriberId, status: 'queued' };
      // Marks the attempt (a crash from here on leaves this one `unknown`, never resent),
      // and rechecks that the subscriber is still on the list. Marks asked for together (the
      // places in flight) are committed together.
      let decision, sendBy: number;
      try {
        const marked = await starter.begin(r.subscriberId);
        decision = marked.decision;
        sendBy = marked.requestedAt + leaseUsableMs;
      } catch (err) {
        // The ledger could not be written: nothing went to SES, so the row is handed back
        // (a resume finds it queued, or `unknown` if the mark did commit), never failed.
        stop.fail(err);
        return { subscriberId: r.subscriberId, status: 'queued' };
      }
      if (decision === 'send') {
        mark.committed = true;
        unrecorded += 1;
        summary.peakUnrecorded = Math.max(summary.peakUnrecorded, unrecorded);
      }
      if (decision === 'skip') return { subscriberId: r.subscriberId, status: 'skipped' };
      if (decision === 'lost') {
        stop.loseLease();
        return { subscriberId: r.subscriberId, status: 'lost' };
      }
      const url = unsubscribeUrl(config, r.subscriberId);
      const input = recipientMessage(config, letter, mailoutId, { email: r.email, name: r.name, unsubscribeUrl: url, subscriberId: r.subscriberId });
      // Serialized and signed before the slot: what is paced is the request leaving.
      const prepared = await sendEmail.prepare(input);
      // The slot last, so that the pace is the pace of the requests SES sees, whatever the
      // database took above.
      await place.start();
      if (stop.kind === 'paused') {
        // Marked but never handed to SES: it goes back to the queue (record_results 'queued').
        // (After a lost lease or a ledger fault the mark stands and a resume would count the
        // row `unknown`, never to be sent: with its mark committed it goes, still only once.)
        return { subscriberId: r.subscriberId, status: 'queued' };
      }
      let attempt = 0;
      const out = await sendWithRetry(async () => {
        // A retry is paced like a first attempt: it takes a slot of its own.
        if (attempt++ > 0) await place.again();
        // By this run's own clock the lease may have passed since the mark: a takeover may
        // have settled the row already, so nothing is sent on it (and it is not retried).
        if (now() >= sendBy) {
          markTooOld = true;
          throw new SesError({ kind: 'recipient', code: 'lease_guard', message: 'the mark may have outlived the lease', throttled: false, maybeDelivered: false });
        }
        return sendEmail.send(prepared);
      }, {
        // At most once per recipient: a request that may have reached SES is not sent again.
        retryMaybeDelivered: false,
        ...(deps.sleep ? { sleep: deps.sleep } : {}),
        ...(deps.random ? { random: deps.random } : {}),
        classify: { fromEmail: config.ses.fromEmail },
        onRetry: ({ error }) => {
          if (error.throttled) pacer.slowDown();
        },
      });
      pacer.recordSuccess();
      consecutiveFailures = 0;
      return { subscriberId: r.subscriberId, status: 'sent', sesMessageId: out.MessageId ?? null };
    } catch (err) {
      if (markTooOld) {
        // Never reached SES (any earlier attempt was refused before SES took it): handed back,
        // which changes the row only if it is still this run's.
        log.warn('send.mark_outlived_lease', { mailout_id: mailoutId, subscriber_id: r.subscriberId });
        return { subscriberId: r.subscriberId, status: 'queued' };
      }
      const o = outcomeOf(r.subscriberId, isSesError(err) ? err : classifySesError(err), consecutiveFailures);
      consecutiveFailures = o.streak;
      if (o.failure) pacer.recordFailure();
      if (o.pause) stop.pause(o.pause);
      return o.result;
    }
  }

  async function record(outcome: Outcome, marked = false): Promise<Outcome> {
    if (!isResult(outcome)) return outcome;
    try {
      await recorder.record(outcome);
    } catch (err) {
      stop.fail(err);
    } finally {
      if (marked) unrecorded -= 1;
    }
    return outcome;
  }
  async function sendAndRecord(r: BatchRecipient): Promise<Outcome> {
    if (stop.stopped) return record({ subscriberId: r.subscriberId, status: 'queued' });
    // A place among those in flight (at most maxConcurrency), held from the mark (begin_sends)
    // until the outcome is in the ledger: a crash leaves at most maxConcurrency rows marked
    // and not recorded, so at most that many `unknown`, however slow the ledger is.
    const place = await pacer.place();
    summary.peakConcurrency = Math.max(summary.peakConcurrency, pacer.inFlight);
    const mark = { committed: false };
    try {
      const outcome = await sendOne(r, place, mark);
      return await record(outcome, mark.committed);
    } finally {
      place.release();
    }
  }

  const wantsProgress = reporter.wantsProgress !== false;
  let lastFeedbackCheck = Number.NEGATIVE_INFINITY;
  /** The batches going out, oldest first, while the next one is claimed. */
  const going: BatchRun[] = [];
  /** Some row went back to the queue (SES retries ran out) since the flag was cleared. */
  let handedBack = false;
  /** A claim came back empty: what is going out is seen through before looking again. */
  let draining = false;

  interface BatchRun {
    batch: BatchRecipient[];
    number: number;
    started: number;
    outcomes: Promise<Outcome[]>;
    done: boolean;
  }

  /** Claimed rows whose send and record have not finished yet. */
  let outstanding = 0;
  let onRowDone: (() => void) | null = null;
  const rowDone = () => new Promise<void>((resolve) => (onRowDone = resolve));
  async function sendAndRecordCounted(r: BatchRecipient): Promise<Outcome> {
    try {
      return await sendAndRecord(r);
    } finally {
      outstanding -= 1;
      const wake = onRowDone;
      onRowDone = null;
      wake?.();
    }
  }

  function startBatch(batch: BatchRecipient[]): BatchRun {
    outstanding += batch.length;
    // Every sendAndRecord settles (failures become outcomes), so this never rejects.
    const run: BatchRun = { batch, number: summary.batches, started: now(), outcomes: Promise.all(batch.map(sendAndRecordCounted)), done: false };
    void run.outcomes.then(() => (run.done = true));
    return run;
  }

  /** Waits for a batch to go out, counts it, and runs the checks between batches. */
  async function settle(run: BatchRun): Promise<void> {
    const outcomes = await run.outcomes;
    const results = outcomes.filter(isResult);
    for (const res of results) {
      if (res.status === 'sent') summary.sent += 1;
      else if (res.status === 'failed') {
        summary.failed += 1;
        const email = run.batch.find((b) => b.subscriberId === res.subscriberId)?.email ?? '';
        failedRows.push({ email, code: res.errorCode, message: res.errorMessage });
      } else if (res.status === 'unknown') summary.unknown += 1;
    }
    log.info('send.batch', {
      mailout_id: mailoutId,
      batch: run.number,
      size: run.batch.length,
      sent: results.filter((r) => r.status === 'sent').length,
      failed: results.filter((r) => r.status === 'failed').length,
      requeued: results.filter((r) => r.status === 'queued').length,
      rate: Number(pacer.rate.toFixed(2)),
      duration_ms: now() - run.started,
    });
    if (results.some((res) => res.status === 'queued')) handedBack = true;
    if (stop.stopped) return;

    // Draining after an empty claim there is nothing left to pause: no check on the way out.
    if (now() - lastFeedbackCheck >= FEEDBACK_CHECK_EVERY_MS && !draining) {
      lastFeedbackCheck = now();
      // Unreadable statistics stop the run (a ledger fault), never switch the auto-pause off.
      const pauseReason = autoPauseReason(await mailoutFeedbackStats(db, mailoutId));
      if (pauseReason) {
        stop.pause(pauseReason);
        return;
      }
    }
    if (isCheckpoint(run)) {
      await reporter.progress(mailoutId, await mailoutCounts(db, mailoutId));
    }
  }
  const isCheckpoint = (run: BatchRun) => wantsProgress && run.number % PROGRESS_EVERY_BATCHES === 0;

  /**
   * Rows kept claimed and not finished: every place the pacer allows, the messages that go out
   * during one claim's round trip, and a batch. The next batch is claimed as soon as fewer are
   * left, whether or not the oldest batch has finished: a batch waits for its slowest answer
   * (SES's p99 is 400 ms; one in 100 messages), and waiting for it before claiming more would
   * leave the places idle at 200/s.
   */
  const rowsAhead = () => pacer.limit + Math.ceil(pacer.rate * (claimMs / 1000)) + batchSize;
  let claimMs = 0;

  /** Claims the next batch, and learns how long a claim takes (how far ahead to claim). */
  async function claimNext(): Promise<BatchRecipient[]> {
    const claimStarted = now();
    const batch = await claimBatch(db, { mailoutId, leaseToken, limit: batchSize, leaseSeconds: input.leaseSeconds });
    claimMs = claimMs === 0 ? now() - claimStarted : 0.75 * claimMs + 0.25 * (now() - claimStarted);
    return batch;
  }

  /** Ends this invocation in the ledger: paused, released for a fresh invocation, or complete. */
  async function finish(): Promise<FinishResult | undefined> {
    if (stop.kind === 'lease_lost') {
      summary.outcome = 'lease_lost';
      summary.reason = stop.reason!;
      return undefined;
    }
    if (stop.stopped) {
      summary.outcome = 'paused';
      summary.reason = stop.reason!;
      return finishMailout(db, { mailoutId, leaseToken, outcome: 'paused', reason: stop.reason });
    }
    return finishMailout(db, { mailoutId, leaseToken, outcome: summary.outcome === 'released' ? 'released' : 'complete' });
  }

  try {
    const settleOldest = () => settle(going.shift()!);
    try {
      for (;;) {
        if (going.length > 0 && isCheckpoint(going[going.length - 1]!)) {
          // The progress counts must be those of the ledger after exactly these batches.
          while (going.length > 0 && !stop.stopped) await settleOldest();
          if (stop.stopped) break;
        }
        // Always make progress: the first batch goes whatever the clock says. A later one must
        // fit before the deadline, after the batches still going out.
        if (summary.batches > 0 && input.deadline - now() < ((outstanding + batchSize) / Math.max(pacer.rate, 0.1)) * 1000 + margin) {
          summary.outcome = 'released';
          summary.reason = 'time budget reached';
          break;
        }
        const batch = await claimNext();
        if (batch.length === 0) {
          if (going.length === 0) break;
          // The batches still going out may hand rows back (SES retries ran out): see them
          // through, and look again only if one did (a last empty claim would cost a round
          // trip at the end of every run).
          handedBack = false;
          draining = true;
          while (going.length > 0 && !stop.stopped) await settleOldest();
          draining = false;
          if (stop.stopped || !handedBack) break;
          continue;
        }
        summary.batches += 1;
        // Its messages queue at the pacer behind those of the batches still going out.
        going.push(startBatch(batch));
        // Count the batches that have finished (in order), and claim again once the rows
        // still going out are fewer than the places need.
        for (;;) {
          while (going.length > 0 && going[0]!.done && !stop.stopped) await settleOldest();
          if (stop.stopped || outstanding < rowsAhead()) break;
          await rowDone();
        }
        if (stop.stopped) break;
      }
    } catch (err) {
      // Send nothing more; what is in flight is seen through below, then the error goes on.
      stop.fail(err);
    } finally {
      // Whatever stopped the loop, the batches still going out finish: messages already
      // handed to SES are recorded, those not yet started go back to the queue.
      while (going.length > 0) await settleOldest();
      await recorder.drain();
    }
    if (stop.kind === 'error') throw stop.error;
    if (stop.error) log.warn('send.ledger_fault_after_pause', { mailout_id: mailoutId, error: stop.error });

    summary.final = await finish();
  } catch (err) {
    if (isAppError(err, 'lease_lost')) {
      summary.outcome = 'lease_lost';
      summary.reason = 'another invocation took over the mailout';
      log.warn('send.lease_lost', { mailout_id: mailoutId });
    } else {
      throw err;
    }
  } finally {
    pacer.close();
    summary.durationMs = now() - started;
  }

  if (failedRows.length) {
    const failedInAll = summary.final?.failed ?? (await mailoutCounts(db, mailoutId).catch(() => null))?.failed ?? summary.failed;
    await reporter.errors(mailoutId, failedRows, Math.max(0, failedInAll - summary.failed));
  }
  if (summary.final) await reporter.finished(mailoutId, summary.final);
  log.info('send.invocation_done', {
    mailout_id: mailoutId,
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
