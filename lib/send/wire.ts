import type { Client } from '@notionhq/client';
import { getDeadline } from '@vercel/functions';
import { mailoutCounts } from '../db/ledger';
import type { Config } from '../config';
import { getDb, type Db } from '../db';
import { AppError } from '../errors';
import { imageStorageFromConfig } from '../images';
import { log } from '../log';
import { createNotionClient } from '../notion/client';
import { createNotionReporter } from '../notion/writeback';
import { loadLetter, type LetterOptions, type LetterSource } from '../render/pipeline';
import { createSesClient } from '../ses';
import { viewUrl } from '../view';
import { feedbackStats } from './loop';
import { silentReporter, type MailoutReporter } from './reporter';
import type { SendDeps } from './index';

/** The real dependencies of a send, built from the configuration. */

/** How the configuration shapes every letter (lib/render/pipeline): the same for a send and a preview. */
export function letterOptionsFromConfig(config: Config, notion: Client | null): LetterOptions {
  const storage = imageStorageFromConfig(config);
  return {
    notion,
    ...(storage ? { storage } : {}),
    ...(config.footerAddress ? { footerAddress: config.footerAddress } : {}),
    ...(config.listName ? { listName: config.listName } : {}),
    viewUrl: (mailoutId) => viewUrl(config, mailoutId),
  };
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
      // A Markdown file (the CLI, the demo) is the letter of the mailout id its caller took
      // from it (mailoutIdOf); the web version is found under the id the mailout is claimed as.
      const source: LetterSource = opts.letterFile ? { kind: 'file', path: opts.letterFile } : { kind: 'notion', pageId: mailoutId };
      return loadLetter(source, { ...letterOptionsFromConfig(config, notion), viewUrl: () => viewUrl(config, mailoutId) });
    },
    deadline: () => getDeadline()?.getTime() ?? startedAt + config.sending.maxDurationSeconds * 1000,
    continueElsewhere: (mailoutId) => selfContinue(config, mailoutId),
  };
}
