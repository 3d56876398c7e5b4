import type { ClaimOutcome, MailoutState } from '../db/ledger';
import { AppError } from '../errors';
import { log } from '../log';
import { parseMailoutId } from '../mailout-id';
import { requireReady } from '../readiness';
import type { SendRequest } from './request';
import { duplicateAnswer, startMailout, type SendDeps, type StartResult } from './start';

/**
 * POST /api/send-mailout from a Notion automation answers within seconds, whatever the page:
 * Notion pauses an automation whose "Send webhook" action fails or is slow, until a person
 * resumes it, and reading a large page takes tens of seconds.
 *
 * Before the answer, only what is cheap: the id, a one-row read of the mailout (a repeat press
 * is answered "duplicate" without reading the page), the page's membership and Test checkbox
 * (one `pages.retrieve`), and for a live send the sender readiness gate (a few AWS calls).
 * After it, in `run` (kept alive with `waitUntil`): reading and rendering the page, the claim
 * and the send, as `startMailout` does for every caller. What fails there is written on the
 * page and in the Errors database (`MailoutReporter.notSent`), since nobody reads the answer.
 *
 * Every other request (the spec's body, the CLI, a continuation, a dry run) is answered
 * after `startMailout`, as before: those callers may wait, and a dry run answers the subject.
 */

export type SendAnswer = Omit<StartResult, 'run'> & { run?: () => Promise<unknown> };

export async function answerSendRequest(deps: SendDeps, req: SendRequest): Promise<SendAnswer> {
  if (!req.fromNotion || req.dryRun || req.continuation || !deps.readPageMode) return startMailout(deps, req);
  return acceptWebhook(deps, { ...req, mailoutId: parseMailoutId(req.mailoutId) }, deps.readPageMode);
}

/** What the one-row read says about a claimed mailout; null: a claim may be tried. */
function claimedAlready(state: MailoutState | null, now: number): ClaimOutcome | null {
  if (state?.status === 'sent') return 'already_sent';
  // A clock apart from the database's errs either way safely: the claim itself decides.
  if (state?.status === 'sending' && state.leaseUntil && state.leaseUntil.getTime() > now) return 'in_progress';
  return null;
}

async function acceptWebhook(deps: SendDeps, req: SendRequest, readPageMode: (id: string) => Promise<{ test: boolean }>): Promise<SendAnswer> {
  const { mailoutId } = req;
  const state = await deps.ledger.state(mailoutId);
  const outcome = claimedAlready(state, (deps.now ?? Date.now)());
  if (state && outcome) return duplicateAnswer(req, { outcome, mailoutId, status: state.status, leaseUntil: state.leaseUntil }, deps);

  // A ticked Test checkbox always means test; a page without one is refused here (422).
  const mode = (await readPageMode(mailoutId)).test ? 'test' : 'live';
  let readiness = deps.readiness;
  if (mode === 'live') {
    const checks = await deps.readiness((await deps.ledger.pendingCount(mailoutId)).pending);
    await refuseUnready(deps, mailoutId, checks);
    // Once per mailout: the run after the answer reuses this verdict.
    readiness = async () => checks;
  }
  const run = () => sendAfterAnswer({ ...deps, readiness }, { ...req, mode });
  return {
    status: 202,
    body: {
      outcome: 'accepted',
      mode,
      mailout_id: mailoutId,
      message: 'Accepted: the page is read and sent now; its Status and Last error show how it goes.',
    },
    run,
  };
}

/** The readiness refusal (412) lands on the page as well: Notion shows nobody the answer. */
async function refuseUnready(deps: SendDeps, mailoutId: string, checks: Awaited<ReturnType<SendDeps['readiness']>>): Promise<void> {
  try {
    await requireReady(checks, mailoutId, deps.reporter);
  } catch (err) {
    await deps.reporter.notSent(mailoutId, failureOf(err));
    throw err;
  }
}

function failureOf(err: unknown): { code: string; message: string } {
  if (err instanceof AppError) return { code: err.code, message: err.message };
  return { code: 'internal', message: 'Not sent: an unexpected error stopped the send before anything was claimed; the logs say more (send.not_sent).' };
}

/**
 * The read, the claim and the send. A second press while the first is still reading finds no
 * claim and is accepted too; claim_mailout is atomic, so only one run claims, and the other
 * gets `in_progress` or `already_sent` and writes the duplicate on the page (its `after`).
 */
async function sendAfterAnswer(deps: SendDeps, req: SendRequest): Promise<void> {
  let started: StartResult;
  try {
    started = await startMailout(deps, req);
  } catch (err) {
    log.warn('send.not_sent', { mailout_id: req.mailoutId, error: err });
    await deps.reporter.notSent(req.mailoutId, failureOf(err));
    return;
  }
  await started.after;
  // A failure of the send loop is the loop's and the cron's (the lease expires, a resume follows).
  await started.run?.();
}
