import { GetAccountCommand, type SESv2Client } from '@aws-sdk/client-sesv2';
import { sendWithRetry } from '../ses/retry';
import { errorText, fail, ok, warn, type Check } from './check';

const NAME = 'SES account';
/** Statuses that allow sending; PROBATION does, with a warning. */
const SENDING = new Set(['HEALTHY', 'PROBATION']);
const fmt = (n: number) => n.toLocaleString('en-US');

/**
 * GetAccount: production access, sending enabled, enforcement status, and the 24-hour quota
 * left against `recipients` (the active list, or what this mailout still has to send).
 */
export async function checkAccount(ses: SESv2Client, recipients: number): Promise<Check> {
  let account;
  try {
    account = await sendWithRetry(() => ses.send(new GetAccountCommand({})), { maxAttempts: 3, baseDelayMs: 250, maxDelayMs: 2_000 });
  } catch (err) {
    return fail(NAME, `GetAccount failed: ${errorText(err)}`, 'Check AWS_REGION, the AWS credentials and the ses:GetAccount permission (npm run setup:aws -- --policy-only).');
  }
  if (account.SendingEnabled === false) {
    return fail(NAME, 'sending is disabled for this account in this region (SendingEnabled: false)', 'Re-enable it: aws sesv2 put-account-sending-attributes --sending-enabled');
  }
  const enforcement = account.EnforcementStatus?.toUpperCase();
  if (enforcement && !SENDING.has(enforcement)) {
    return fail(NAME, `enforcement status ${account.EnforcementStatus}: AWS has paused sending`, 'Resolve the case in the SES console (Reputation metrics, Support) before sending.');
  }
  if (account.ProductionAccessEnabled === false) {
    return fail(NAME, 'the account is in the SES sandbox: only verified addresses receive mail', 'Request production access: SES console → Account dashboard → Request production access.');
  }
  const max24 = account.SendQuota?.Max24HourSend;
  const left = max24 === undefined || max24 < 0 ? Infinity : Math.max(0, Math.floor(max24 - (account.SendQuota?.SentLast24Hours ?? 0)));
  const quota = left === Infinity ? 'no 24-hour limit' : `${fmt(left)} of ${fmt(max24!)} sends left in 24 hours`;
  if (left < recipients) {
    return fail(NAME, `${quota}, the list needs ${fmt(recipients)}`, 'Wait for earlier sends to age out of the rolling 24 hours, or ask AWS for a higher sending quota.');
  }
  const facts = `production access, sending enabled, ${quota} for ${fmt(recipients)} recipients, max ${account.SendQuota?.MaxSendRate ?? '?'}/s`;
  if (enforcement === 'PROBATION') {
    return warn(NAME, `${facts}; enforcement status PROBATION`, 'Bring the bounce and complaint rates down (SES console → Reputation metrics).');
  }
  return ok(NAME, facts);
}
