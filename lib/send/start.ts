import { randomUUID } from 'node:crypto';
import type { SESv2Client } from '@aws-sdk/client-sesv2';
import type { Config } from '../config';
import type { Db } from '../db';
import type { BatchRecipient, ClaimResult, Ledger, LetterOrigin, TestSendResult } from '../db/ledger';
import { mailoutFeedbackStats } from '../feedback/store';
import { AppError } from '../errors';
import { log } from '../log';
import { parseMailoutId } from '../mailout-id';
import { readinessWarnings, requireReady, type Check } from '../readiness';
import type { LoadedLetter, Recipient, RenderedMailout } from '../letter/types';
import { classifySesError, isSesError, preflight } from '../ses';
import { createSendEmail } from '../ses/send-email';
import { testUnsubscribeUrl, unsubscribeUrl } from '../unsubscribe/token';
import { footerAddressWarnings, requireFooterAddress } from './footer';
import { concurrencyCeiling, runSendLoop, type LoopDeps, type LoopSummary } from './loop';
import { ledgerLoopStore } from './loop-store';
import { pacedRecipientSender, sendPaced } from './recipient-sender';
import { recipientMessage, recipientMessageJson } from './recipient-message';
import type { MailoutReporter } from '../mailout-reporter';
import type { SendRequest } from './request';

/**
 * POST /api/send-mailout, from the parsed request to the answer:
 *   load the letter → (test: send to TEST_EMAILS) → pre-flight → claim → answer,
 * with the sending itself returned as `run`, for the caller to keep alive (`waitUntil`).
 */

export interface SendDeps {
  config: Config;
  db: Db;
  /** The typed SQL calls (lib/db/ledger.ts), built once by the composition root. */
  ledger: Ledger;
  ses: SESv2Client;
  reporter: MailoutReporter;
  /** Reads and renders the mailout (Notion page, or a Markdown file for the CLI and demo). */
  loadLetter(mailoutId: string): Promise<LoadedLetter>;
  /**
   * A continuation sends the stored letter without reading it again: this refuses (403) one
   * whose page has left the Mailouts database since the claim (lib/notion/membership).
   */
  admitContinuation(mailoutId: string): Promise<void>;
  /**
   * The webhook's check before it answers (lib/send/webhook.ts): refuses a page outside the
   * Mailouts database, and says what its Test checkbox says, without reading its body.
   */
  readPageMode?(mailoutId: string): Promise<{ test: boolean }>;
  /** The sender readiness checks (lib/readiness) for a send to this many recipients. */
  readiness(recipients: number): Promise<Check[]>;
  /** Epoch ms by which this invocation must stop (getDeadline, or start + maxDuration). */
  deadline(): number;
  /** Ask a fresh invocation to continue (self-call); the cron is the safety net. */
  continueElsewhere?(mailoutId: string): Promise<void>;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  safetyMarginMs?: number;
}

export interface StartResult {
  status: number;
  body: Record<string, unknown>;
  /** The sending, to keep alive after answering. */
  run?: () => Promise<LoopSummary>;
  /** Work to finish after answering (a note on the Notion page); never rejects. */
  after?: Promise<void>;
}

function leaseSecondsFor(config: Config, rate: number): number {
  // A lease must outlive the slowest batch, or a healthy invocation would lose it mid-batch.
  const batchSeconds = config.sending.batchSize / Math.max(rate, 0.1);
  return Math.max(config.sending.leaseSeconds, Math.ceil(batchSeconds * 3 + 30));
}

/** The answer to a request for a mailout already sent or being sent (from the claim, or lib/send/webhook's one-row read). */
export function duplicateAnswer(req: SendRequest, claim: Pick<ClaimResult, 'outcome' | 'mailoutId' | 'status' | 'leaseUntil'>, deps: SendDeps): StartResult {
  const reason =
    claim.outcome === 'already_sent'
      ? 'This mailout was already sent; it is never sent twice.'
      : `This mailout is being sent right now (lease until ${claim.leaseUntil?.toISOString() ?? 'unknown'}).`;
  // Written after the answer: the caller keeps it alive (a serverless function may freeze otherwise).
  const after = deps.reporter.duplicate(claim.mailoutId, `Duplicate send request refused: ${reason}`).catch(() => undefined);
  const body = { outcome: 'duplicate', mailout_id: claim.mailoutId, status: claim.status, reason };
  // Notion pauses an automation whose webhook fails, so Notion is told "fine, nothing to do".
  return req.fromNotion ? { status: 200, body, after } : { status: 409, body: { error: 'conflict', message: reason, ...body }, after };
}

/** Test mode: TEST_EMAILS only, may repeat, never touches the live claim. */
async function sendTest(deps: SendDeps, mailoutId: string, loaded: LoadedLetter, readiness: string[]): Promise<StartResult> {
  const { config } = deps;
  if (config.testEmails.length === 0) {
    throw new AppError('unprocessable', 'Test mode needs TEST_EMAILS (comma-separated addresses) to be set.');
  }
  const runId = randomUUID();
  const classify = { fromEmail: config.ses.fromEmail };
  // The bulk send's path (lib/send/recipient-sender.ts), one message at a time.
  const sender = pacedRecipientSender<Recipient>({
    sendEmail: createSendEmail(deps.ses),
    rate: config.sending.ratePerSec,
    maxConcurrency: 1,
    message: (to) => recipientMessage(config, loaded.letter, mailoutId, { email: to.email, name: null, unsubscribeUrl: testUnsubscribeUrl(config, to.email, mailoutId) }, { test: true }),
    classify,
    ...(deps.sleep ? { sleep: deps.sleep } : {}),
    ...(deps.random ? { random: deps.random } : {}),
  });
  const results: TestSendResult[] = [];
  try {
    for (const email of config.testEmails) {
      try {
        const out = await sendPaced(sender, { email, name: null });
        results.push({ email, status: 'sent', ses_message_id: out.MessageId ?? null });
      } catch (err) {
        const info = isSesError(err) ? err : classifySesError(err, classify);
        results.push({ email, status: 'failed', error_code: info.code, error_message: info.message });
      }
    }
  } finally {
    sender.pacer.close();
  }
  await deps.ledger.recordTestSends(mailoutId, { runId, results });
  const sent = results.filter((r) => r.status === 'sent').length;
  const warnings = [...loaded.warnings, ...footerAddressWarnings(config), ...readiness];
  if (loaded.origin === 'notion') await deps.reporter.testSent(mailoutId, { sent, failed: results.length - sent, recipients: config.testEmails, warnings });
  log.info('send.test_done', { mailout_id: mailoutId, run_id: runId, sent, failed: results.length - sent, warnings });
  return {
    status: 200,
    body: {
      outcome: 'test_sent',
      mode: 'test',
      mailout_id: mailoutId,
      run_id: runId,
      recipients: results.length,
      sent,
      results,
      ...(warnings.length ? { warnings } : {}),
    },
  };
}

/** The send loop's dependencies for one run (lib/send/loop.ts), built here and nowhere else. */
function sendLoopDeps(
  deps: SendDeps,
  run: { mailoutId: string; leaseToken: string; letter: RenderedMailout; rate: number; leaseSeconds: number },
): LoopDeps {
  const { config } = deps;
  const { mailoutId, leaseSeconds } = run;
  const now = deps.now ?? Date.now;
  const maxConcurrency = concurrencyCeiling(config.sending.concurrency, run.rate);
  const messageJson = recipientMessageJson(config, run.letter, mailoutId);
  const sender = pacedRecipientSender<BatchRecipient>({
    sendEmail: createSendEmail(deps.ses),
    rate: run.rate,
    maxConcurrency,
    message: (r) => messageJson({ email: r.email, name: r.name, unsubscribeUrl: unsubscribeUrl(config, r.subscriberId), subscriberId: r.subscriberId }),
    classify: { fromEmail: config.ses.fromEmail },
    ...(deps.sleep ? { sleep: deps.sleep } : {}),
    ...(deps.random ? { random: deps.random } : {}),
  });
  return {
    store: ledgerLoopStore(deps.ledger.run({ mailoutId, leaseToken: run.leaseToken, leaseSeconds }), () => mailoutFeedbackStats(deps.db, mailoutId), now),
    sender,
    settings: { mailoutId, batchSize: config.sending.batchSize, maxConcurrency, leaseSeconds, deadline: deps.deadline(), safetyMarginMs: deps.safetyMarginMs ?? 10_000 },
    reporter: deps.reporter,
    clock: { now },
  };
}

/** Connections the send loop uses at once: a claim, a mark, an outcome, a feedback check. */
export const SEND_CONNECTIONS = 4;

export async function startMailout(deps: SendDeps, req: SendRequest): Promise<StartResult> {
  const { config, db, ledger } = deps;
  // Every caller (webhook, CLI, demo) gets the canonical id, so one page is one claim.
  const mailoutId = parseMailoutId(req.mailoutId);

  // The send loop's claim, marks and outcomes go at once: with the database 100 ms away,
  // each connection opened on demand would hold a message back by a few round trips.
  if (!req.dryRun) db.warm?.(SEND_CONNECTIONS);
  // A continuation sends the letter stored at the first claim: no need to read Notion.
  const loaded = req.continuation ? null : await deps.loadLetter(mailoutId);
  if (req.continuation) await deps.admitContinuation(mailoutId);
  // A ticked Test checkbox always means test, whatever the body asks.
  const mode = req.mode === 'test' || loaded?.test ? 'test' : 'live';

  if (req.dryRun) {
    const pending = await ledger.pendingCount(mailoutId);
    const recipients = mode === 'test' ? config.testEmails.length : pending.pending;
    return {
      status: 200,
      body: {
        outcome: 'dry_run',
        mode,
        mailout_id: mailoutId,
        subject: loaded?.letter.subject ?? null,
        recipients,
        claimed: pending.claimed,
        warnings: [...(loaded?.warnings ?? []), ...footerAddressWarnings(config), ...readinessWarnings(await deps.readiness(recipients))],
      },
    };
  }
  if (mode === 'test') {
    if (!loaded) throw new AppError('bad_request', 'A continuation cannot be a test send.');
    return sendTest(deps, mailoutId, loaded, readinessWarnings(await deps.readiness(config.testEmails.length)));
  }

  // Pre-flight before the claim: a refusal changes nothing. A continuation sends the stored letter.
  if (!req.continuation) requireFooterAddress(config);
  const pending = await ledger.pendingCount(mailoutId);
  // Once per mailout: a continuation of a claimed mailout was checked at its first invocation.
  const readiness = req.continuation && pending.claimed ? [] : await requireReady(await deps.readiness(pending.pending), mailoutId, deps.reporter);
  const flight = await preflight(deps.ses, { recipients: pending.pending, requestedRate: config.sending.ratePerSec });
  const rate = flight.rate;
  const leaseSeconds = leaseSecondsFor(config, rate);

  const claim = await ledger.claim(mailoutId, {
    subject: loaded?.letter.subject ?? null,
    leaseSeconds,
    content: loaded ? { ...loaded.letter, origin: loaded.origin } : null,
  });
  if (claim.outcome === 'already_sent' || claim.outcome === 'in_progress') return duplicateAnswer(req, claim, deps);

  const letter = (claim.content ?? loaded?.letter) as RenderedMailout | null;
  if (!letter) {
    throw new AppError('unprocessable', `Mailout ${mailoutId} has no stored letter to continue with; send the webhook again.`);
  }
  const resumed = claim.outcome === 'resumed';
  log.info('send.claimed', {
    mailout_id: mailoutId,
    outcome: claim.outcome,
    recipients: claim.recipients,
    queued: claim.queued,
    unknown: claim.unknown,
    rate,
    lease_seconds: leaseSeconds,
    continuation: req.continuation,
  });
  if (!req.continuation) await deps.reporter.sending(mailoutId, { recipients: claim.recipients, queued: claim.queued, resumed, warnings: readiness });

  const run = async (): Promise<LoopSummary> => {
    const summary = await runSendLoop(sendLoopDeps(deps, { mailoutId, leaseToken: claim.leaseToken!, letter, rate, leaseSeconds }));
    if (summary.outcome === 'released' && deps.continueElsewhere) {
      await deps.continueElsewhere(mailoutId).catch((err: unknown) =>
        log.warn('send.continue_failed', { mailout_id: mailoutId, error: err, note: 'the cron will resume it' }),
      );
    }
    return summary;
  };

  return {
    status: 202,
    body: {
      outcome: resumed ? 'resumed' : 'started',
      mode: 'live',
      mailout_id: mailoutId,
      recipients: claim.recipients,
      queued: claim.queued,
      unknown: claim.unknown,
      rate,
      ...(loaded?.warnings.length || readiness.length ? { warnings: [...(loaded?.warnings ?? []), ...readiness] } : {}),
    },
    run,
  };
}
