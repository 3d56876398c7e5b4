/**
 * `npm run resend-unknown -- MAILOUT [--quiet-minutes N] [--confirm]`: the recipients of a
 * finished mailout left `unknown` whom SES never reported after N quiet minutes (default 60),
 * listed to standard output (email, subscriber id). With `--confirm` each is sent once more
 * through the ordinary paced, lease-guarded send, and never again. Without it nothing is sent.
 * Exit 0 done (or nothing to do), 1 refused or failed, 2 usage or configuration.
 */
import { createApp } from '../lib/app';
import { loadConfig } from '../lib/config';
import { createDb } from '../lib/db';
import { createLedger } from '../lib/db/ledger';
import { letterSource, mailoutIdOf } from '../lib/letter';
import { DEFAULT_QUIET_MINUTES, planResend, resendUnknown } from '../lib/send/resend-unknown';
import { cliDatabaseConfig, loadCliEnv } from './lib/env';

const USAGE = 'usage: npm run resend-unknown -- PAGE|MAILOUT_ID|FILE.md [--quiet-minutes N] [--confirm]';

function parseArgs(args: string[]): { target: string; quietMinutes: number; confirm: boolean } {
  const rest: string[] = [];
  let quietMinutes = DEFAULT_QUIET_MINUTES;
  let confirm = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--confirm') confirm = true;
    else if (a === '--quiet-minutes') {
      const n = Number(args[++i]);
      if (!Number.isInteger(n) || n < 1) throw new Error('--quiet-minutes needs a whole number of minutes, at least 1.');
      quietMinutes = n;
    } else if (a.startsWith('-')) throw new Error(`Unknown option ${a}: nothing was sent.`);
    else rest.push(a);
  }
  if (rest.length !== 1) throw new Error(USAGE);
  return { target: rest[0]!, quietMinutes, confirm };
}

async function main(): Promise<void> {
  loadCliEnv({ database: true });
  let opts: ReturnType<typeof parseArgs>;
  let mailoutId: string;
  try {
    opts = parseArgs(process.argv.slice(2));
    mailoutId = mailoutIdOf(letterSource(opts.target));
  } catch (err) {
    console.error((err as Error).message);
    if (!(err as Error).message.startsWith('usage')) console.error(USAGE);
    process.exit(2);
  }
  const target = cliDatabaseConfig();
  const db = createDb({ db: target }, { maxConnections: 2 });
  let plan;
  try {
    plan = await planResend(createLedger(db), mailoutId, opts.quietMinutes);
  } finally {
    await db.close();
  }
  const { window, rows } = plan;
  if (!window.found) {
    console.error(`No mailout ${mailoutId} has been sent or claimed.`);
    process.exit(1);
  }
  for (const r of rows) process.stdout.write(`${r.email}\t${r.subscriberId}\n`);
  console.error(`${rows.length} recipients of mailout ${mailoutId} are unknown and SES never reported them.`);
  if (window.status !== 'sent') {
    console.error(`The mailout is ${window.status}, not finished: resend-unknown waits until it is sent. Nothing was sent.`);
    process.exit(1);
  }
  if (!window.ready) {
    console.error(`SES may still report them: the mailout's last activity was at ${window.lastActivityAt?.toISOString()}; run again after ${window.quietUntil?.toISOString()} (--quiet-minutes ${opts.quietMinutes}). Nothing was sent.`);
    process.exit(1);
  }
  if (!opts.confirm) {
    if (rows.length) console.error('Nothing was sent. Add --confirm to send each of them once more (never again after that).');
    return;
  }
  if (rows.length === 0) return;
  const deps = createApp(loadConfig()).sendDeps();
  // No function deadline on a terminal: run to the end in this process.
  deps.deadline = () => Number.POSITIVE_INFINITY;
  delete deps.continueElsewhere;
  try {
    const result = await resendUnknown(deps, mailoutId, opts.quietMinutes);
    const s = result.summary;
    console.error(
      result.outcome === 'requeued'
        ? `Queued ${result.requeued} once more: sent ${s?.sent ?? 0}, failed ${s?.failed ?? 0}, unknown ${s?.unknown ?? 0} (the send ${s?.outcome ?? 'did not start'}). None of them is ever resent again.`
        : `Nothing was queued (${result.outcome}).`,
    );
    if (result.outcome !== 'requeued' || s?.outcome !== 'complete') process.exitCode = 1;
  } finally {
    await deps.db.close();
  }
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
