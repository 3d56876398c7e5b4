import { AppError } from '../errors';
import { log } from '../log';
import type { MailoutReporter } from '../mailout-reporter';
import { describeCheck, type Check } from './check';

/** Test sends and dry runs refuse nothing: every check that is not ✔ becomes a warning. */
export function readinessWarnings(checks: Check[]): string[] {
  return checks.filter((c) => c.status !== 'ok').map(describeCheck);
}

/**
 * A live send, before its claim: any ✖ refuses it (412, each fix named; the page is told
 * why, nothing is claimed). Returns the ⚠ lines for the answer, the page and the log.
 */
export async function requireReady(checks: Check[], mailoutId: string, reporter: MailoutReporter): Promise<string[]> {
  const failures = checks.filter((c) => c.status === 'fail').map(describeCheck);
  const warnings = checks.filter((c) => c.status === 'warn').map(describeCheck);
  if (failures.length) {
    const reason = `Not sent: the sender is not ready. ${failures.join(' | ')}`;
    log.warn('send.not_ready', { mailout_id: mailoutId, failures, warnings });
    await reporter.refused(mailoutId, reason);
    throw new AppError('precondition_failed', `${reason}. Run npm run doctor to see every check. Nothing was claimed or sent.`, {
      details: { failures, warnings },
    });
  }
  if (warnings.length) log.warn('send.readiness_warnings', { mailout_id: mailoutId, warnings });
  return warnings;
}
