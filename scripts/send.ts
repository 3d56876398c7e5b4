/**
 * `npm run send -- PAGE|FILE.md [--test] [--dry-run]`: the webhook's path, for operators.
 * PAGE is a Notion page id or URL (NOTION_TOKEN set); a Markdown file is sent as the letter
 * (its first `# heading` is the subject; its mailout id, printed, comes from its front matter
 * `id:` or its file name: lib/mailout-id).
 */
import fs from 'node:fs';
import { loadConfig } from '../lib/config';
import { parseMailoutId } from '../lib/mailout-id';
import { startMailout } from '../lib/send';
import { markdownMailoutId, sendDepsFromConfig } from '../lib/send/wire';
import { loadDotEnv } from './lib/env';

const SEND_FLAGS = new Set(['--test', '--dry-run']);

async function main(): Promise<void> {
  loadDotEnv();
  const args = process.argv.slice(2);
  const targets = args.filter((a) => !a.startsWith('-'));
  // A mistyped --dry-run or --test must not become a live send to the whole list.
  const unknown = args.filter((a) => a.startsWith('-') && !SEND_FLAGS.has(a));
  if (unknown.length > 0 || targets.length !== 1) {
    if (unknown.length > 0) console.error(`Unknown option ${unknown.join(', ')}: nothing was sent.`);
    console.error('usage: npm run send -- PAGE|FILE.md [--test] [--dry-run]');
    process.exit(2);
  }
  const target = targets[0]!;
  const isFile = target.endsWith('.md') && fs.existsSync(target);
  let mailoutId: string;
  try {
    // One page is one mailout: the same id whatever spelling of the page (or the same file) is given.
    mailoutId = isFile ? markdownMailoutId(target) : parseMailoutId(target, 'PAGE');
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
  console.error(`mailout ${mailoutId}${isFile ? ` (the letter ${target}: sending this file again resumes this mailout; npm run report -- ${mailoutId})` : ''}`);
  const config = loadConfig();
  const deps = sendDepsFromConfig(config, isFile ? { letterFile: target } : {});
  // No function deadline on a terminal: run to the end in this process.
  deps.deadline = () => Number.POSITIVE_INFINITY;
  delete deps.continueElsewhere;
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
