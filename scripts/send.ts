/**
 * `npm run send -- PAGE|FILE.md [--test] [--dry-run]`: the webhook's path, for operators.
 * PAGE is a Notion page id or URL (NOTION_TOKEN set); a Markdown file is sent as the letter,
 * read exactly as `npm run preview` reads it (lib/render/pipeline: front matter `subject:`,
 * `preheader:`, `id:`).
 */
import { loadConfig } from '../lib/config';
import { letterSource, mailoutIdOf } from '../lib/render/pipeline';
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
  const source = letterSource(target);
  const deps = sendDepsFromConfig(config, source.kind === 'file' ? { letterFile: source.path } : {});
  // No function deadline on a terminal: run to the end in this process.
  deps.deadline = () => Number.POSITIVE_INFINITY;
  delete deps.continueElsewhere;
  const mailoutId = mailoutIdOf(source);
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
