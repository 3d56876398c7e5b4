/**
 * The sending limits of the fake SES (scripts/fakes/ses.ts): what a real SESv2 account refuses,
 * judged from the account the fake advertises through GetAccount.
 *
 * Sources (read 2026-12):
 * - Quotas count recipients, not messages (To + Cc + Bcc): "Quotas are based on the number of
 *   recipients, rather than on the number of messages" (https://docs.aws.amazon.com/ses/latest/dg/quotas.html).
 * - MaxSendRate is "the maximum number of emails that you can send per second", Max24HourSend the
 *   24-hour quota where "a value of -1 signifies an unlimited quota"
 *   (https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_SendQuota.html).
 * - Over either limit "the API produces a ThrottlingException error" whose message is "Daily
 *   message quota exceeded" or "Maximum sending rate exceeded"
 *   (https://docs.aws.amazon.com/ses/latest/dg/manage-sending-quotas-errors.html). SESv2's
 *   REST-JSON spelling of that error is TooManyRequestsException, HTTP 429 (the SendEmail errors of
 *   https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_SendEmail.html#API_SendEmail_Errors, as
 *   https://github.com/alphagov/notifications-api/pull/4310 switched to it; a real answer logged in
 *   https://github.com/pm-pmaas/etailors_amazon_ses/issues/117: `POST .../v2/email/outbound-emails`
 *   → `429 Too Many Requests` `{"message":"Maximum sending rate exceeded."}` TooManyRequestsException).
 *   The daily quota is the same error with the other message (SES_ERRORS.DailyQuotaExceeded).
 * - Message size: "Using the SES v2 API or SMTP - Maximum message size (including attachments):
 *   40 MB per message (after base64 encoding)", not adjustable (quotas.html above). The refusal's
 *   wording is not documented for v2; it is modelled on v1's MessageRejected "Message length is
 *   more than 10485760 bytes long" (10 MiB), hence 40 MiB here.
 *
 * The rate is a token bucket, as the SES team described the limit ("if, at the rate you are
 * sending, you have any emails left in your send rate quota, you can send to multiple
 * recipients. However, you will not be able to send further emails until you have built up enough
 * quota again. For example, if your send rate quota is one message per second, and you send a
 * message to five recipients at once, Amazon SES lets you do that. For the next five seconds,
 * though, Amazon will return errors for all send attempts"; quoted from the SES blog in
 * https://github.com/django-ses/django-ses/issues/59). SES documents no burst allowance, so the
 * bucket holds one second of the rate and no more: after any idle time at most MaxSendRate
 * recipients pass at once, then MaxSendRate a second; a send is accepted while at least one
 * recipient's worth is left, and its recipients are taken even into debt.
 *
 * Not a rolling one-second window at millisecond precision: SES documents none (its team
 * describes quota that builds up again), and there a sender paced at exactly the rate would be
 * refused whenever network jitter brings two requests closer than the pace (lib/ses/pacer.ts
 * leaves 5 ms a second for that jitter).
 */

/** The bucket refills MaxSendRate per this many ms and holds as much. */
export const RATE_WINDOW_MS = 1000;
export const DAY_MS = 24 * 60 * 60 * 1000;
/** SESv2's message size limit, 40 MB (after base64 encoding). */
export const MAX_MESSAGE_BYTES = 40 * 1024 * 1024;

export interface SendQuota {
  MaxSendRate: number;
  Max24HourSend: number;
  /** Sent before the fake started (the account's advertised value), counted in the 24 hours. */
  SentLast24Hours: number;
}

interface Entry {
  until: number;
  n: number;
}

/** MaxSendRate recipients a second, holding at most one second's worth. */
function sendRateBucket() {
  let tokens: number | undefined; // full until the first send
  let at = 0;
  return {
    take(rate: number, now: number, n: number): boolean {
      const refilled = tokens === undefined ? rate : tokens + (Math.max(0, now - at) * rate) / RATE_WINDOW_MS;
      const level = Math.min(rate, refilled);
      at = Math.max(at, now);
      tokens = level;
      if (level < Math.min(1, rate) - 1e-9) return false;
      tokens = level - n;
      return true;
    },
  };
}

/** A sum over entries that leave it at their `until` (pushed in time order). */
function expiringSum() {
  const entries: Entry[] = [];
  let head = 0;
  let sum = 0;
  const prune = (now: number) => {
    while (head < entries.length && entries[head]!.until <= now) sum -= entries[head++]!.n;
    if (head > 1024 && head * 2 > entries.length) {
      entries.splice(0, head);
      head = 0;
    }
  };
  return {
    at(now: number): number {
      prune(now);
      return sum;
    },
    add(until: number, n: number): void {
      entries.push({ until, n });
      sum += n;
    },
    clear(): void {
      entries.length = 0;
      head = 0;
      sum = 0;
    },
  };
}

/** The account's limits as SES keeps them; `now` in ms (monotonic). */
export function createSendingLimits() {
  const rate = sendRateBucket();
  const day = expiringSum();
  return {
    /**
     * A send of `n` recipients arriving at `now`: takes them from the bucket if at least one is
     * left (even if it is refused later for another reason: SES counted the request).
     */
    admitRate(quota: SendQuota, now: number, n: number): boolean {
      return rate.take(quota.MaxSendRate, now, n);
    },
    /** Whether `n` more recipients fit in the 24-hour quota now. */
    fitsDaily(quota: SendQuota, now: number, n: number): boolean {
      if (quota.Max24HourSend === -1) return true;
      return quota.SentLast24Hours + day.at(now) + n <= quota.Max24HourSend;
    },
    /** An accepted send: its recipients count in the 24 hours from `now`. */
    recordSent(now: number, n: number): void {
      day.add(now + DAY_MS, n);
    },
    /** Recipients accepted in the last 24 hours (what GetAccount adds to SentLast24Hours). */
    sentLast24Hours(now: number): number {
      return day.at(now);
    },
    /** Forget the accepted sends (the fake's `reset`); the rate bucket runs on. */
    forgetSent(): void {
      day.clear();
    },
  };
}

/**
 * The size SES would see: a Raw message is its decoded MIME; a Simple one, the base64 of each part
 * SES writes into the MIME (subject, bodies, headers; attachments when present).
 */
export function messageBytes(content: unknown): number {
  const c = (content ?? {}) as {
    Raw?: { Data?: string };
    Simple?: {
      Subject?: { Data?: string };
      Body?: { Text?: { Data?: string }; Html?: { Data?: string } };
      Headers?: Array<{ Name: string; Value: string }>;
      Attachments?: Array<{ RawContent?: string }>;
    };
  };
  if (c.Raw?.Data !== undefined) return Math.floor((c.Raw.Data.replace(/=+$/, '').length * 3) / 4);
  const s = c.Simple;
  if (!s) return 0;
  const base64Of = (text: string | undefined) => Math.ceil(Buffer.byteLength(text ?? '', 'utf8') / 3) * 4;
  return (
    base64Of(s.Subject?.Data) +
    base64Of(s.Body?.Text?.Data) +
    base64Of(s.Body?.Html?.Data) +
    (s.Headers ?? []).reduce((sum, h) => sum + Buffer.byteLength(`${h.Name}: ${h.Value}\r\n`, 'utf8'), 0) +
    // RawContent is already base64 in the request, as it goes into the MIME
    (s.Attachments ?? []).reduce((sum, a) => sum + (a.RawContent?.length ?? 0), 0)
  );
}
