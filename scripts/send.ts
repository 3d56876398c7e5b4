/**
 * `npm run send -- PAGE|FILE.md [--test] [--dry-run]`: the webhook's path, for operators.
 * PAGE is a Notion page id or URL (NOTION_TOKEN set); a Markdown file is sent as the letter
 * (its first `# heading` is the subject, the file name the mailout id).
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../lib/config';
import { startMailout } from '../lib/send';
import { sendDepsFromConfig } from '../lib/send/wire';
import { loadCliEnv } from './lib/env';

async function main(): Promise<void> {
  loadCliEnv({ database: true });
  const args = process.argv.slice(2);
  const target = args.find((a) => !a.startsWith('--'));
  if (!target) {
    console.error('usage: npm run send -- PAGE|FILE.md [--test] [--dry-run]');
    process.exit(2);
  }
  const config = loadConfig();
  const isFile = target.endsWith('.md') && fs.existsSync(target);
  const deps = sendDepsFromConfig(config, isFile ? { letterFile: target } : {});
  // No function deadline on a terminal: run to the end in this process.
  deps.deadline = () => Number.POSITIVE_INFINITY;
  delete deps.continueElsewhere;
  const mailoutId = isFile ? path.basename(target, '.md') : target;
  const result = await startMailout(deps, {
    mailoutId,
    fromNotion: false,
    ...(args.includes('--test') ? { mode: 'test' as const } : {}),
    dryRun: args.includes('--dry-run'),
    continuation: false,
  });
  console.log(JSON.stringify(result.body, null, 2));
  let failed = result.status >= 400;
  if (result.body.outcome === 'test_sent') {
    // A test send that reached nobody is a failure to report, not a success with `sent: 0`.
    const { sent, recipients, results } = result.body as { sent: number; recipients: number; results?: { error_code?: string; error_message?: string }[] };
    if (sent < recipients) {
      failed = true;
      const first = results?.find((r) => r.error_code);
      console.error(`The test send failed for ${recipients - sent} of ${recipients} recipients${first ? `: ${first.error_code}: ${first.error_message ?? ''}` : ''}.`);
    }
  }
  if (result.run) {
    const summary = await result.run();
    console.log(JSON.stringify({ outcome: summary.outcome, sent: summary.sent, failed: summary.failed, unknown: summary.unknown, reason: summary.reason }, null, 2));
    if (summary.outcome === 'paused') {
      failed = true;
      console.error(`The mailout is paused: ${summary.reason ?? 'see its Last error'}.`);
    }
  }
  await result.after;
  await deps.db.close();
  process.exit(failed ? 1 : 0);
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
