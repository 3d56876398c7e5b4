/**
 * `npm run send -- PAGE|FILE.md [--test] [--dry-run]`: the webhook's path, for operators.
 * PAGE is a Notion page id or URL (NOTION_TOKEN set); a Markdown file is sent as the letter,
 * read exactly as `npm run preview` reads it (lib/letter: front matter `subject:`,
 * `preheader:`, `id:`).
 */
import { createApp } from '../lib/app';
import { loadConfig } from '../lib/config';
import { letterSource, mailoutIdOf, type LetterSource } from '../lib/letter';
import { startMailout } from '../lib/send';
import { loadCliEnv } from './lib/env';

const SEND_FLAGS = new Set(['--test', '--dry-run']);

async function main(): Promise<void> {
  loadCliEnv({ database: true });
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
  let source: LetterSource;
  let mailoutId: string;
  try {
    // One page is one mailout: the same id whatever spelling of the page (or the same file) is given.
    source = letterSource(target);
    mailoutId = mailoutIdOf(source);
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
  console.error(`mailout ${mailoutId}${source.kind === 'file' ? ` (the letter ${target}: sending this file again resumes this mailout; npm run report -- ${mailoutId})` : ''}`);
  const deps = createApp(loadConfig()).sendDeps(source.kind === 'file' ? { letterFile: source.path } : {});
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
