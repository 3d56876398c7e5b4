import type { Config } from '../config';
import type { Db } from '../db/types';
import { AppError, publicErrorBody } from '../errors';
import { log } from '../log';
import { withTimeout } from '../timeout';
import { parseSesMessage } from './ses';
import {
  certificateCacheFor,
  httpsCertificateFetcher,
  isSnsSubscribeUrl,
  parseSnsEnvelope,
  verifySnsEnvelope,
  type CertificateFetcher,
  type SnsEnvelope,
} from './sns';
import { isDataError, keepSnsDeadLetter, whyUnstorable } from './dead-letter';
import { applySesEvent, claimNotionRefresh, claimPendingNotionRefreshes, type AppliedEvent } from './store';

/**
 * POST /api/ses-events: Amazon SNS over HTTPS carrying SES feedback.
 *
 *   400  empty or non-JSON body, unknown message type, missing fields, certificate URL off an
 *        SNS host (never fetched), SubscribeURL off an SNS host
 *   401  signature does not verify (forged, wrong key, altered)
 *   403  topic not in SNS_ALLOWED_TOPIC_ARNS (checked before any certificate is fetched)
 *   500  SNS_ALLOWED_TOPIC_ARNS is empty: no topic is trusted (also checked before any fetch)
 *   200  verified: SubscriptionConfirmation confirmed (only for a listed topic), UnsubscribeConfirmation
 *        logged, Notification stored and applied (every SES event type; a duplicate changes
 *        nothing), or, when Postgres cannot store it (\u0000, nesting too deep), kept in
 *        sns_dead_letters for a person to look at (retrying would never succeed)
 *   502  the certificate or the SubscribeURL could not be fetched, or too many certificate
 *        downloads this minute (SNS retries); a failed download is remembered for 10 seconds
 *   503  database fault (SNS retries); nothing is answered 200 before it is in the database
 */

export type SubscribeUrlFetcher = (url: string, signal: AbortSignal) => Promise<{ ok: boolean; status: number }>;

export interface SnsDeps {
  db: Db;
  config: Pick<Config, 'snsAllowedTopicArns' | 'softBounceLimit'>;
  /** Downloads a signing certificate (defaults to HTTPS fetch). Certificates are cached per fetcher. */
  fetchCertificate?: CertificateFetcher;
  /** Visits a SubscribeURL to confirm a subscription (defaults to HTTPS fetch). */
  fetchSubscribeUrl?: SubscribeUrlFetcher;
  /** Writes the mailout's counts onto its Notion page; called at most once per interval per mailout. */
  refreshNotionCounts?: (mailoutId: string) => Promise<void>;
  /** Seconds between two refreshes of one mailout's Notion counts (default 10). */
  notionRefreshIntervalSeconds?: number;
  /** Run work after the response (Vercel's waitUntil); without it the refresh is awaited. */
  waitUntil?: (promise: Promise<unknown>) => void;
  /** Timeout of the certificate and SubscribeURL fetches (default 5000 ms). */
  fetchTimeoutMs?: number;
}

export interface SnsResult {
  status: number;
  body: Record<string, unknown>;
}

export const defaultSubscribeUrlFetcher: SubscribeUrlFetcher = async (url, signal) => {
  const res = await fetch(url, { signal, redirect: 'error' });
  await res.arrayBuffer().catch(() => undefined);
  return { ok: res.ok, status: res.status };
};

/** Empty never means "any topic": anyone can subscribe an endpoint to a topic of their own. */
function checkTopic(config: SnsDeps['config'], topicArn: string): void {
  const allowed = config.snsAllowedTopicArns;
  if (allowed.length === 0) {
    throw new AppError(
      'config',
      'SNS_ALLOWED_TOPIC_ARNS is not set, so no SNS topic is trusted: set it to the ARN of the SES feedback topic (`npm run setup:aws` prints it).',
    );
  }
  if (!allowed.includes(topicArn)) throw new AppError('forbidden', 'This SNS topic is not in SNS_ALLOWED_TOPIC_ARNS.');
}

/** Verify, then act on one SNS POST body. Never throws: every outcome is a status and a body. */
export async function handleSnsRequest(bodyText: string, deps: SnsDeps): Promise<SnsResult> {
  let envelope: SnsEnvelope | undefined;
  try {
    envelope = parseSnsEnvelope(bodyText);
    checkTopic(deps.config, envelope.TopicArn);
    const fetcher = deps.fetchCertificate ?? httpsCertificateFetcher;
    await verifySnsEnvelope(envelope, certificateCacheFor(fetcher, { timeoutMs: deps.fetchTimeoutMs }));

    switch (envelope.Type) {
      case 'SubscriptionConfirmation':
        return await confirmSubscription(envelope, deps);
      case 'UnsubscribeConfirmation':
        log.warn('sns.unsubscribe_confirmation', { topicArn: envelope.TopicArn, messageId: envelope.MessageId });
        return { status: 200, body: { ok: true, type: envelope.Type } };
      case 'Notification':
        return await applyNotification(envelope, bodyText, deps);
    }
  } catch (err) {
    const status = err instanceof AppError ? err.status : 500;
    const context = { type: envelope?.Type, messageId: envelope?.MessageId, topicArn: envelope?.TopicArn, status };
    if (status >= 500) log.error('sns.failed', { ...context, error: err });
    else log.warn('sns.refused', { ...context, reason: err instanceof AppError ? err.message : 'unknown' });
    return { status, body: publicErrorBody(err) };
  }
}

async function confirmSubscription(envelope: SnsEnvelope, deps: SnsDeps): Promise<SnsResult> {
  const url = envelope.SubscribeURL ?? '';
  if (!isSnsSubscribeUrl(url)) {
    throw new AppError('bad_request', 'The SubscribeURL is not an Amazon SNS ConfirmSubscription URL.');
  }
  if (new URL(url).searchParams.get('TopicArn') !== envelope.TopicArn) {
    throw new AppError('bad_request', 'The SubscribeURL confirms another topic than the message names.');
  }
  const fetcher = deps.fetchSubscribeUrl ?? defaultSubscribeUrlFetcher;
  let res: { ok: boolean; status: number };
  try {
    const ms = deps.fetchTimeoutMs ?? 5_000;
    res = await withTimeout(ms, () => new AppError('upstream', `The SNS SubscribeURL did not answer within ${ms} ms.`), (signal) => fetcher(url, signal));
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new AppError('upstream', `The SNS SubscribeURL could not be fetched: ${(err as Error).message}`, { cause: err });
  }
  if (!res.ok) throw new AppError('upstream', `The SNS SubscribeURL answered ${res.status}.`);
  log.info('sns.subscription_confirmed', { topicArn: envelope.TopicArn });
  return { status: 200, body: { ok: true, type: envelope.Type, confirmed: true } };
}

async function applyNotification(envelope: SnsEnvelope, bodyText: string, deps: SnsDeps): Promise<SnsResult> {
  const event = parseSesMessage(envelope.Message);
  const unstorable = whyUnstorable(event.payload);
  if (unstorable) return keepForReview(envelope, bodyText, unstorable, deps);
  let result: AppliedEvent;
  try {
    result = await applySesEvent(deps.db, {
      snsMessageId: envelope.MessageId,
      event,
      softBounceLimit: deps.config.softBounceLimit,
    });
  } catch (err) {
    if (!isDataError(err)) throw err;
    return keepForReview(envelope, bodyText, `the database refused it: ${(err as Error).message.slice(0, 300)}`, deps);
  }
  log.info('sns.notification', {
    messageId: envelope.MessageId,
    eventType: event.eventType,
    format: event.format,
    applied: result.applied,
    duplicateFeedback: result.duplicateFeedback,
    mailoutId: result.mailoutId,
    hardBounced: result.hardBounced,
    softBounced: result.softBounced,
    bouncedBySoftLimit: result.bouncedBySoftLimit,
    unsubscribed: result.unsubscribed,
  });

  if (result.applied && !result.duplicateFeedback && result.mailoutId && deps.refreshNotionCounts) {
    const work = maybeRefreshNotion(deps, result.mailoutId);
    if (deps.waitUntil) deps.waitUntil(work);
    else await work;
  }
  return {
    status: 200,
    body: {
      ok: true,
      type: envelope.Type,
      eventType: event.eventType,
      duplicate: !result.applied,
      changes: summary(result),
    },
  };
}

/** A verified message Postgres can never store: kept for a person, answered 200 so SNS stops retrying. */
async function keepForReview(envelope: SnsEnvelope, bodyText: string, reason: string, deps: SnsDeps): Promise<SnsResult> {
  const kept = await keepSnsDeadLetter(deps.db, { envelope, bodyText, reason });
  log.error('sns.dead_letter', { messageId: envelope.MessageId, topicArn: envelope.TopicArn, reason, kept: kept.kept, deliveries: kept.deliveries });
  return { status: 200, body: { ok: true, type: envelope.Type, keptForReview: true } };
}

function summary(r: AppliedEvent): Record<string, number> {
  return { bounced: r.hardBounced + r.bouncedBySoftLimit, softBounced: r.softBounced, unsubscribed: r.unsubscribed };
}

/** Claim the throttle, then refresh; never throws (a failing refresh is logged, the 200 stands). */
async function maybeRefreshNotion(deps: SnsDeps, mailoutId: string): Promise<void> {
  try {
    const go = await claimNotionRefresh(deps.db, mailoutId, deps.notionRefreshIntervalSeconds ?? 10);
    if (go) await deps.refreshNotionCounts!(mailoutId);
  } catch (err) {
    log.warn('sns.notion_refresh_failed', { mailoutId, error: err });
  }
}

/**
 * For a cron: refresh the mailouts whose Notion refresh the throttle held back (the last
 * events of a burst). Returns the mailout ids refreshed; failures are logged.
 */
export async function flushPendingNotionRefreshes(
  db: Db,
  refresh: (mailoutId: string) => Promise<void>,
  minIntervalSeconds = 10,
): Promise<string[]> {
  const ids = await claimPendingNotionRefreshes(db, minIntervalSeconds);
  const done: string[] = [];
  for (const id of ids) {
    try {
      await refresh(id);
      done.push(id);
    } catch (err) {
      log.warn('sns.notion_refresh_failed', { mailoutId: id, error: err });
    }
  }
  return done;
}
