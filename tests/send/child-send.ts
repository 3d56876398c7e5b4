/**
 * A sender in its own process, for the kill test: starts the mailout named in MAILOUT_ID with
 * the configuration in the environment and sends until it is killed (or done).
 * Run it with `node --import tsx` (the tsx CLI forks a grandchild the kill would miss).
 */
import { loadConfig } from '../../lib/config';
import { createDb } from '../../lib/db';
import { createLedger } from '../../lib/db/ledger';
import { startMailout, silentReporter } from '../../lib/send';
import { createSesClient } from '../../lib/ses';
import { letter, readySender } from './helpers';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const mailoutId = process.env.MAILOUT_ID!;
  const db = createDb(config);
  const res = await startMailout(
    {
      config,
      db,
      ledger: createLedger(db),
      ses: createSesClient(config),
      reporter: silentReporter,
      loadLetter: async () => letter(),
      admitContinuation: async () => undefined,
      readiness: readySender,
      deadline: () => Date.now() + 300_000,
      safetyMarginMs: 0,
    },
    { mailoutId, fromNotion: false, dryRun: false, continuation: false },
  );
  process.send?.({ started: res.status });
  const summary = await res.run?.();
  process.send?.({ done: summary?.outcome });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
