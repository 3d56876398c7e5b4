import type { Db } from '../db/types';
import type { Ledger } from '../db/ledger';
import { log } from '../log';
import { flushPendingNotionRefreshes } from '../feedback';

/**
 * The cron's safety net: every `sending` mailout whose lease expired (its invocation died,
 * or its continuation call was lost) is handed to a fresh invocation of send-mailout.
 */
export interface ResumeDeps {
  db: Db;
  ledger: Ledger;
  /** Ask a fresh invocation to continue this mailout (App.continueMailout). */
  continueMailout(mailoutId: string): Promise<void>;
  /** The Notion counts writer, or undefined without Notion (App.countsRefresher). */
  countsRefresher(): ((mailoutId: string) => Promise<void>) | undefined;
}

export async function resumeExpiredMailouts(app: ResumeDeps): Promise<string[]> {
  const { db } = app;
  const due = await app.ledger.toResume({ limit: 10 });
  const resumed: string[] = [];
  for (const mailoutId of due) {
    try {
      await app.continueMailout(mailoutId);
      resumed.push(mailoutId);
    } catch (err) {
      log.warn('cron.resume_failed', { mailout_id: mailoutId, error: err });
    }
  }
  log.info('cron.resume', { found: due.length, resumed: resumed.length });
  // The last feedback of a burst, held back by the Notion throttle, reaches the page here.
  const refresh = app.countsRefresher();
  if (refresh) await flushPendingNotionRefreshes(db, refresh).catch((err: unknown) => log.warn('cron.notion_flush_failed', { error: err }));
  return resumed;
}
