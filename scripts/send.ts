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
import { loadDotEnv } from './lib/env';

async function main(): Promise<void> {
  loadDotEnv();
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
  if (result.run) {
    const summary = await result.run();
    console.log(JSON.stringify({ outcome: summary.outcome, sent: summary.sent, failed: summary.failed, unknown: summary.unknown, reason: summary.reason }, null, 2));
  }
  await result.after;
  await deps.db.close();
  process.exit(result.status >= 400 ? 1 : 0);
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
