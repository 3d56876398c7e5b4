import { GetAccountCommand, type GetAccountCommandOutput, type SESv2Client } from '@aws-sdk/client-sesv2';
import { AppError } from '../errors';
import { log } from '../log';
import { hasEndpointOverride } from './client';
import { classifySesError, SesError } from './errors';
import { sendWithRetry } from './retry';

export interface PreflightOptions {
  /** How many messages the mailout will send. */
  recipients: number;
  /** The configured RATE_LIMIT_PER_SEC. */
  requestedRate: number;
  /**
   * Whether the client talks to SES_ENDPOINT (emulator/fake) rather than real SES. Defaults to
   * what the client says; only then may an unimplemented GetAccount be taken as "local, unlimited".
   */
  endpointOverride?: boolean;
  /** Back-off for throttled/5xx GetAccount calls (tests inject a fake). */
  sleep?: (ms: number) => Promise<void>;
  /** Clock for the "try after" hint (default Date.now). */
  now?: () => number;
}

export interface PreflightResult {
  /** The rate to send at: min(requestedRate, MaxSendRate). */
  rate: number;
  /** Sends left in the rolling 24-hour quota; Infinity when unlimited (Max24HourSend = -1, or local). */
  quotaLeft: number;
  maxSendRate?: number;
  max24HourSend?: number;
  sentLast24Hours?: number;
  enforcementStatus?: string;
  /** The account is in the SES sandbox: only verified recipients receive mail. */
  sandbox: boolean;
  /** GetAccount was not available at the endpoint override; the limits were assumed. */
  local: boolean;
}

/** Enforcement statuses that allow sending (PROBATION does, with a warning). */
const SENDING_STATUSES = new Set(['HEALTHY', 'PROBATION']);

const fmt = (n: number) => n.toLocaleString('en-US');

/**
 * Before the claim, ask SES (GetAccount) whether this mailout can go out now.
 * Refuses with AppError('precondition_failed') when sending is disabled, the account is shut
 * down, or the remaining 24-hour quota is smaller than the recipient count; otherwise returns
 * the pace (capped at MaxSendRate) and the quota left.
 */
export async function preflight(client: SESv2Client, options: PreflightOptions): Promise<PreflightResult> {
  const { recipients, requestedRate } = options;
  const override = options.endpointOverride ?? hasEndpointOverride(client);
  const now = options.now ?? Date.now;

  let account: GetAccountCommandOutput;
  try {
    account = await sendWithRetry(() => client.send(new GetAccountCommand({})), {
      // A read: repeating one that may have reached SES costs nothing.
      retryMaybeDelivered: true,
      maxAttempts: 3,
      baseDelayMs: 250,
      maxDelayMs: 2_000,
      ...(options.sleep ? { sleep: options.sleep } : {}),
    });
  } catch (err) {
    const cause = err instanceof SesError && err.cause !== undefined ? err.cause : err;
    if (override && isGetAccountUnavailable(cause)) {
      log.info('ses.preflight.local', {
        detail: (cause as { detail?: unknown }).detail ?? (cause as Error).message,
        note: 'GetAccount is not available at SES_ENDPOINT; assuming a local endpoint with no quota or rate limit',
        requestedRate,
        recipients,
      });
      return { rate: requestedRate, quotaLeft: Number.POSITIVE_INFINITY, sandbox: false, local: true };
    }
    const info = classifySesError(err);
    if (info.kind === 'account') {
      throw new AppError(
        'precondition_failed',
        `SES refused the account check (${info.code}): ${info.message}. Check the AWS credentials, region and ses:GetAccount permission.`,
        { cause: err, details: { sesError: info.code } },
      );
    }
    throw new AppError('upstream', `SES did not answer the account check (${info.code}): ${info.message}. Try again shortly.`, {
      cause: err,
      details: { sesError: info.code },
    });
  }

  const enforcementStatus = account.EnforcementStatus ?? undefined;
  const sandbox = account.ProductionAccessEnabled === false;
  const quota = account.SendQuota;
  const max24 = quota?.Max24HourSend;
  const sent24 = quota?.SentLast24Hours ?? 0;
  const maxSendRate = quota?.MaxSendRate;
  const facts = {
    sendingEnabled: account.SendingEnabled,
    enforcementStatus,
    max24HourSend: max24,
    sentLast24Hours: sent24,
    maxSendRate,
    recipients,
  };

  if (account.SendingEnabled === false) {
    throw new AppError(
      'precondition_failed',
      'SES sending is disabled for this account in this region (SendingEnabled is false). Re-enable it in the SES console ' +
        '(Account dashboard) or with `aws sesv2 put-account-sending-attributes --sending-enabled`, then send again.',
      { details: facts },
    );
  }
  if (enforcementStatus && !SENDING_STATUSES.has(enforcementStatus.toUpperCase())) {
    throw new AppError(
      'precondition_failed',
      `The SES account's enforcement status is ${enforcementStatus}: AWS has paused its ability to send. ` +
        'Resolve the case in the SES console (Reputation metrics / Support) before sending.',
      { details: facts },
    );
  }
  if (enforcementStatus?.toUpperCase() === 'PROBATION') {
    log.warn('ses.preflight.probation', { note: 'the SES account is on probation: watch bounce and complaint rates', ...facts });
  }
  if (sandbox) {
    log.warn('ses.preflight.sandbox', { note: 'the SES account is in the sandbox: only verified addresses receive mail', ...facts });
  }

  let quotaLeft = Number.POSITIVE_INFINITY;
  if (max24 === undefined || max24 === null) {
    log.warn('ses.preflight.no_quota', { note: 'GetAccount returned no SendQuota; not checking the 24-hour quota', ...facts });
  } else if (max24 >= 0) {
    quotaLeft = Math.max(0, Math.floor(max24 - sent24));
    if (quotaLeft < recipients) {
      const retryBy = new Date(now() + 24 * 3600 * 1000).toISOString();
      throw new AppError(
        'precondition_failed',
        `This mailout needs ${fmt(recipients)} sends but only ${fmt(quotaLeft)} remain in the SES 24-hour quota ` +
          `(${fmt(sent24)} of ${fmt(max24)} used). The quota is a rolling 24-hour window: try again after earlier sends ` +
          `age out (all of them by ${retryBy}), or ask AWS for a higher sending quota.`,
        { details: { ...facts, quotaLeft } },
      );
    }
  } // max24 = -1: unlimited

  const rate = maxSendRate !== undefined && maxSendRate !== null && maxSendRate > 0 ? Math.min(requestedRate, maxSendRate) : requestedRate;
  if (rate < requestedRate) {
    log.info('ses.preflight.rate_capped', { requestedRate, rate, maxSendRate });
  }
  return {
    rate,
    quotaLeft,
    ...(maxSendRate !== undefined ? { maxSendRate } : {}),
    ...(max24 !== undefined ? { max24HourSend: max24 } : {}),
    ...(quota ? { sentLast24Hours: sent24 } : {}),
    ...(enforcementStatus !== undefined ? { enforcementStatus } : {}),
    sandbox,
    local: false,
  };
}

/**
 * GetAccount is "not there" at a local endpoint: a 404 / UnknownOperation (a server that does not
 * implement it), or aws-ses-v2-local's 400 "Account not found" (it answers GetAccount only when its
 * AWS_SES_ACCOUNT environment variable holds a complete account JSON).
 */
function isGetAccountUnavailable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { name?: unknown; type?: unknown; detail?: unknown; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  if (status === 404) return true;
  if (e.name === 'UnknownOperationException' || e.type === 'UnknownOperationException') return true;
  return status === 400 && typeof e.detail === 'string' && e.detail.startsWith('aws-ses-v2-local:');
}
