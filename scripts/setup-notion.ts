/**
 * npm run setup:notion -- --parent PAGE [--lang ru|en] [--dry-run]
 * npm run setup:notion -- --mailouts DB --errors DB [--dry-run]
 *
 * Creates the «Письма» and «Ошибки» databases under PAGE (`--lang en`: "Mailouts" and
 * "Errors"), or finds them there on a second run, or checks existing databases and adds
 * the properties the executor needs.
 * Env: NOTION_TOKEN (required), NOTION_BASE_URL (optional), NOTION_MAILOUTS_DATABASE_ID /
 * NOTION_ERRORS_DATABASE_ID (instead of --mailouts / --errors), APP_BASE_URL (for the reminder).
 * Exit codes: 0 done, 1 a check or call failed, 2 bad usage.
 */
import { parseArgs } from 'node:util';
import { isAppError } from '../lib/errors';
import { env, loadNotionConfig } from '../lib/config';
import { createNotionClient } from '../lib/notion/client';
import { DEFAULT_LANG, LANGS, type Lang } from '../lib/notion/schema';
import { parseNotionDatabaseId, parsePageReference } from '../lib/mailout-id';
import { envLines, notionReminders, setupNotion, type NotionSetupOptions } from './setup/notion';
import { loadCliEnv } from './lib/env';

const USAGE = `Usage:
  npm run setup:notion -- --parent PAGE [--lang ru|en] [--dry-run]   create (or find) both databases under a page
                                                           (--lang: their language, default ru: «Письма», «Ошибки»)
  npm run setup:notion -- --mailouts DB --errors DB [--dry-run]   check existing databases, add what is missing
PAGE and DB are ids or Notion links (notion.so, notion.site), read as the executor reads them (lib/mailout-id.ts). --mailouts/--errors default to NOTION_MAILOUTS_DATABASE_ID/NOTION_ERRORS_DATABASE_ID.
Env: NOTION_TOKEN (required), NOTION_BASE_URL (optional).`;

function usage(message: string): never {
  process.stderr.write(`${message}\n\n${USAGE}\n`);
  process.exit(2);
}

async function main(): Promise<number> {
  loadCliEnv();
  let args;
  try {
    args = parseArgs({
      options: {
        parent: { type: 'string' },
        lang: { type: 'string', default: DEFAULT_LANG },
        mailouts: { type: 'string' },
        errors: { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: false,
    }).values;
  } catch (err) {
    usage((err as Error).message);
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }

  const notionConfig = loadNotionConfig();
  const token = notionConfig.token;
  if (!token) usage('NOTION_TOKEN is not set (the secret of your Notion integration: https://www.notion.so/my-integrations).');
  const dryRun = args['dry-run'] === true;
  const lang = args.lang as Lang;
  if (!LANGS.includes(lang)) usage(`--lang "${args.lang}" is not one of ${LANGS.join(', ')}.`);

  let options: NotionSetupOptions;
  if (args.parent !== undefined) {
    const parentPageId = parsePageReference(args.parent);
    if (!parentPageId) usage(`--parent "${args.parent}" is not a Notion page id or URL.`);
    if (args.mailouts !== undefined || args.errors !== undefined) usage('Use either --parent or --mailouts/--errors, not both.');
    options = { dryRun, lang, parentPageId };
  } else {
    const mailoutsRaw = args.mailouts ?? notionConfig.mailoutsDatabaseId;
    const errorsRaw = args.errors ?? notionConfig.errorsDatabaseId;
    if (!mailoutsRaw || !errorsRaw) {
      usage('Give --parent PAGE to create the databases, or --mailouts DB and --errors DB (or the NOTION_*_DATABASE_ID variables) to check them.');
    }
    const mailoutsDatabaseId = parseNotionDatabaseId(mailoutsRaw);
    const errorsDatabaseId = parseNotionDatabaseId(errorsRaw);
    if (!mailoutsDatabaseId) usage(`"${mailoutsRaw}" is not a Notion database id or URL.`);
    if (!errorsDatabaseId) usage(`"${errorsRaw}" is not a Notion database id or URL.`);
    options = { dryRun, mailoutsDatabaseId, errorsDatabaseId };
  }

  // The executor's client: paced by the shared limiter under Notion's rate limit, 429 retried.
  const notion = createNotionClient(notionConfig);

  const out = (line = '') => process.stdout.write(`${line}\n`);
  if (dryRun) out('Dry run: only read calls are made; nothing in Notion is changed.\n');

  const result = await setupNotion(notion, options);
  const mark = { ok: '✓', create: '+', update: '~', warning: '!', problem: '✗' } as const;
  for (const step of result.steps) out(`${mark[step.kind]} ${step.message}`);

  out('\nSet these environment variables (.env locally, the Vercel dashboard in production):');
  for (const line of envLines(result)) out(`  ${line}`);
  out('\nThen, in Notion:');
  for (const line of notionReminders(env('APP_BASE_URL'))) out(`  ${line}`);

  if (!result.ok) {
    process.stderr.write('\nSome properties need fixing by hand in Notion (see ✗ above).\n');
    return 1;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`setup:notion failed: ${isAppError(err) ? err.message : err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
