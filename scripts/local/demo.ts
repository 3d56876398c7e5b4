import path from 'node:path';
import { getApp } from '../../lib/app';
import { importSubscribersFromFile } from '../../lib/import';
import { letterSource, mailoutIdOf } from '../../lib/letter';
import { startMailout } from '../../lib/send';
import type { LocalStack } from './stack';

/**
 * `npm start -- --demo`: imports the sample subscriber list and sends the sample mailout
 * (a Markdown file) through the same engine as the webhook; the emails land in the SES
 * emulator's inbox. Running it again sends nothing: the mailout is already sent.
 */
export async function runDemo(opts: { rootDir: string; stack: LocalStack }): Promise<void> {
  const app = getApp('send-mailout');
  const db = app.db;
  const dir = path.join(opts.rootDir, 'scripts', 'demo');
  const summary = await importSubscribersFromFile(db, path.join(dir, 'subscribers.csv'), { source: 'demo' });
  console.log(`demo: imported ${summary.inserted} new subscribers (${summary.unchanged} unchanged, ${summary.rejected} rejected, ${summary.duplicates} duplicates)`);

  const letterFile = path.join(dir, 'mailout.md');
  const mailoutId = mailoutIdOf(letterSource(letterFile));
  const deps = app.sendDeps({ letterFile });
  const result = await startMailout(deps, { mailoutId, fromNotion: false, dryRun: false, continuation: false });
  if (!result.run) {
    console.log(`demo: ${String(result.body.outcome ?? result.status)}: ${String(result.body.reason ?? result.body.message ?? '')}`);
  } else {
    const s = await result.run();
    console.log(`demo: mailout ${s.outcome}: ${s.sent} sent, ${s.failed} failed`);
  }
  const inbox = opts.stack.inboxUrl ?? opts.stack.sesUrl;
  console.log(`demo: open ${inbox} to read the emails; the report: npm run report -- ${mailoutId}`);
}
