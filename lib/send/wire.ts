import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@notionhq/client';
import { getDeadline } from '@vercel/functions';
import { mailoutCounts } from '../db/ledger';
import type { Config } from '../config';
import { getDb, type Db } from '../db';
import { AppError } from '../errors';
import { imageStorageFromConfig, rehostImages } from '../images';
import { log } from '../log';
import { FRONT_MATTER, frontMatterId, mailoutIdForFile } from '../mailout-id';
import { createNotionClient } from '../notion/client';
import { readMailoutPage } from '../notion/read';
import { createNotionReporter } from '../notion/writeback';
import { renderMailout } from '../render';
import { createSesClient } from '../ses';
import { feedbackStats } from './loop';
import { silentReporter, type MailoutReporter } from './reporter';
import type { LoadedLetter, SendDeps } from './index';

/** The real dependencies of a send, built from the configuration. */

export async function loadLetterFromNotion(config: Config, client: Client, pageId: string): Promise<LoadedLetter> {
  const page = await readMailoutPage(client, pageId);
  const images = await rehostImages(page.markdown, {
    storage: imageStorageFromConfig(config),
    notionFileUrls: page.notionFileUrls,
  });
  const letter = renderMailout({
    markdown: images.markdown,
    subject: page.subject,
    ...(page.preheader ? { preheader: page.preheader } : {}),
    ...(config.footerAddress ? { footerAddress: config.footerAddress } : {}),
    ...(config.listName ? { listName: config.listName } : {}),
    notionFileUrls: page.notionFileUrls,
  });
  return { letter, test: page.test, warnings: [...page.warnings, ...letter.warnings] };
}

/** The mailout id of a Markdown letter: its front matter `id:`, else its file name (lib/mailout-id). */
export function markdownMailoutId(file: string): string {
  return mailoutIdForFile({ frontMatterId: frontMatterId(fs.readFileSync(file, 'utf8')), path: file });
}

/** A Markdown file as the letter (CLI and demo): the first `# heading` is the subject. */
export function loadLetterFromMarkdown(config: Config, file: string, subject?: string): LoadedLetter {
  const source = fs.readFileSync(file, 'utf8').replace(FRONT_MATTER, '');
  const heading = /^#\s+(.+)$/m.exec(source);
  const title = subject ?? heading?.[1]?.trim() ?? path.basename(file, path.extname(file));
  const markdown = heading && !subject ? source.replace(heading[0], '').trimStart() : source;
  const letter = renderMailout({
    markdown,
    subject: title,
    ...(config.footerAddress ? { footerAddress: config.footerAddress } : {}),
    ...(config.listName ? { listName: config.listName } : {}),
  });
  return { letter, test: false, warnings: letter.warnings };
}

export function notionReporter(config: Config, db: Db, client: Client | null): MailoutReporter {
  if (!client) return silentReporter;
  return createNotionReporter(client, config, {
    feedback: async (id) => {
      const s = await feedbackStats(db, id);
      return s ? { delivered: s.delivered, hardBounces: s.hardBounces, complaints: s.complaints } : null;
    },
  });
}

/** Writes a mailout's counts (ledger and SES feedback) onto its Notion page; undefined without Notion. */
export function notionCountsRefresher(config: Config, db: Db): ((mailoutId: string) => Promise<void>) | undefined {
  if (!config.notion.token) return undefined;
  const reporter = createNotionReporter(createNotionClient(config), config, {
    feedback: async (id) => {
      const s = await feedbackStats(db, id);
      return s ? { delivered: s.delivered, hardBounces: s.hardBounces, complaints: s.complaints } : null;
    },
  });
  return async (mailoutId) => reporter.refreshCounts(mailoutId, await mailoutCounts(db, mailoutId));
}

/** Ask a fresh invocation to continue this mailout: the same endpoint, authenticated. */
export async function selfContinue(config: Config, mailoutId: string): Promise<void> {
  const res = await fetch(`${config.appBaseUrl}/api/send-mailout`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${config.executorSecret}` },
    body: JSON.stringify({ mailout_id: mailoutId, continuation: true }),
    signal: AbortSignal.timeout(30_000),
  });
  log.info('send.continued', { mailout_id: mailoutId, status: res.status });
  if (res.status >= 500) throw new AppError('upstream', `The continuation call answered HTTP ${res.status}.`);
}

export function sendDepsFromConfig(
  config: Config,
  opts: { startedAt?: number; letterFile?: string } = {},
): SendDeps {
  const db = getDb(config);
  const notion = config.notion.token ? createNotionClient(config) : null;
  const startedAt = opts.startedAt ?? Date.now();
  return {
    config,
    db,
    ses: createSesClient(config),
    // A Markdown letter has no Notion page to write back to.
    reporter: opts.letterFile ? silentReporter : notionReporter(config, db, notion),
    loadLetter: async (mailoutId) => {
      if (opts.letterFile) return loadLetterFromMarkdown(config, opts.letterFile);
      if (!notion) {
        throw new AppError('config', 'Notion is not configured: set NOTION_TOKEN to send Notion pages.');
      }
      return loadLetterFromNotion(config, notion, mailoutId);
    },
    deadline: () => getDeadline()?.getTime() ?? startedAt + config.sending.maxDurationSeconds * 1000,
    continueElsewhere: (mailoutId) => selfContinue(config, mailoutId),
  };
}
