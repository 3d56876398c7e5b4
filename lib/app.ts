import type { Client } from '@notionhq/client';
import type { SESv2Client } from '@aws-sdk/client-sesv2';
import { getDeadline } from '@vercel/functions';
import { getConfig, requireFeature, type Config, type Feature } from './config';
import { getDb, type Db } from './db';
import type { FunctionName } from './db/pool-budget';
import { createLedger, type Ledger } from './db/ledger';
import { AppError } from './errors';
import { feedbackCountsOrNull } from './feedback/store';
import { imageStorageFromConfig } from './images';
import { log } from './log';
import { createNotionClient } from './notion/client';
import { admitStoredMailoutPage, mailoutPageGate } from './notion/membership';
import { readPageMode } from './notion/read';
import { createNotionReporter } from './notion/writeback';
import { readinessClients, senderChecks, type ReadinessClients } from './readiness';
import { loadLetter, type LetterOptions, type LetterSource } from './letter';
import type { SendDeps } from './send';
import { silentReporter, type MailoutReporter } from './mailout-reporter';
import { createSesClient } from './ses';
import { viewUrl } from './view';

/**
 * The composition root: every real dependency (database, SES, Notion, the Notion reporter,
 * the counts refresher, the continuation call) is built here, from the configuration, and
 * nowhere else. Endpoints (`api/`) and command-line tools (`scripts/`) ask for an `App` and
 * pass its parts to the `lib/` function they call; tests build those parts themselves.
 *
 * Parts are built on first use, so a health check opens no SES client and an unsubscribe
 * link works while the Notion token is missing.
 */
export interface App {
  readonly config: Config;
  /** One database adapter per process (a warm Vercel function reuses its pool). */
  readonly db: Db;
  /** The typed SQL calls on that database (lib/db/ledger.ts), built once. */
  readonly ledger: Ledger;
  readonly ses: SESv2Client;
  /** The Notion client, or null when NOTION_TOKEN is not set. */
  readonly notion: Client | null;
  /**
   * Writes a mailout's state onto its Notion page; silent without Notion. A new one per
   * invocation: it remembers each page's property types only while that invocation runs.
   */
  reporter(): MailoutReporter;
  /** Writes a mailout's counts (ledger and SES feedback) onto its Notion page; undefined without Notion. */
  countsRefresher(): ((mailoutId: string) => Promise<void>) | undefined;
  /** How the configuration shapes every letter (lib/letter): the same for a send and a preview. */
  readonly letterOptions: LetterOptions;
  /** Ask a fresh invocation to continue this mailout: the same endpoint, authenticated. */
  continueMailout(mailoutId: string): Promise<void>;
  /**
   * What a send needs. `letterFile`: the letter is that Markdown file (the CLI, the demo), not
   * the Notion page; `startedAt`: when the invocation began (its deadline counts from it).
   */
  sendDeps(opts?: { startedAt?: number; letterFile?: string }): SendDeps;
}

function lazy<T>(make: () => T): () => T {
  let made: { value: T } | undefined;
  return () => (made ??= { value: make() }).value;
}

/** `fn`: the Vercel function this app serves, whose database pool it gets (lib/db/pool-budget.ts). */
export function createApp(config: Config, fn?: FunctionName): App {
  const notion = lazy(() => (config.notion.token ? createNotionClient(config) : null));
  const db = lazy(() => getDb(config, fn));
  const ledger = lazy(() => createLedger(db()));
  const ses = lazy(() => createSesClient(config));
  const readiness = lazy((): ReadinessClients => readinessClients(config, ses()));
  const reporter = () => notionReporter(config, db(), ledger(), notion());
  const letterOptions = lazy(() => letterOptionsFromConfig(config, notion()));
  const continueMailout = (mailoutId: string) => selfContinue(config, mailoutId);

  return {
    config,
    get db() {
      return db();
    },
    get ledger() {
      return ledger();
    },
    get ses() {
      return ses();
    },
    get notion() {
      return notion();
    },
    reporter,
    // SES feedback and the cron still work while the Notion write-back is misconfigured.
    countsRefresher: () => (config.refusals.writeback ? undefined : countsRefresher(config, db(), ledger(), notion())),
    get letterOptions() {
      return letterOptions();
    },
    continueMailout,
    sendDeps(opts = {}) {
      const startedAt = opts.startedAt ?? Date.now();
      const { letterFile } = opts;
      return {
        config,
        db: db(),
        ledger: ledger(),
        ses: ses(),
        // A Markdown letter has no Notion page to write back to.
        reporter: letterFile ? silentReporter : reporter(),
        loadLetter: async (mailoutId) => {
          // A Markdown file (the CLI, the demo) is the letter of the mailout id its caller took
          // from it (mailoutIdOf); the web version is found under the id the mailout is claimed as.
          const source: LetterSource = letterFile ? { kind: 'file', path: letterFile } : { kind: 'notion', pageId: mailoutId };
          const admitPage = source.kind === 'notion' ? mailoutPageGate(requireNotion(notion()), config.notion) : undefined;
          return loadLetter(source, { ...letterOptions(), viewUrl: () => viewUrl(config, mailoutId), ...(admitPage ? { admitPage } : {}) });
        },
        ...(letterFile
          ? {}
          : { readPageMode: (mailoutId: string) => readPageMode(requireNotion(notion()), mailoutId, { admit: mailoutPageGate(requireNotion(notion()), config.notion) }) }),
        admitContinuation: async (mailoutId) => {
          // A Markdown mailout has no page; with no stored letter the claim sends nothing (no_letter).
          const origin = letterFile ? 'file' : await ledger().origin(mailoutId);
          if (origin === 'file' || origin === null) return;
          await admitStoredMailoutPage(requireNotion(notion()), config.notion, mailoutId);
        },
        readiness: (recipients) => senderChecks(config, readiness(), recipients),
        deadline: () => getDeadline()?.getTime() ?? startedAt + config.sending.maxDurationSeconds * 1000,
        continueElsewhere: continueMailout,
      };
    },
  };
}

function requireNotion(client: Client | null): Client {
  if (!client) throw new AppError('config', 'Notion is not configured: set NOTION_TOKEN to send Notion pages.');
  return client;
}

/** What each function does, so that a bad setting refuses only the features that need it. */
const FEATURE_OF: Record<FunctionName, Feature> = {
  'send-mailout': 'send',
  'cron-resume': 'cron',
  'ses-events': 'feedback',
  unsubscribe: 'unsubscribe',
  view: 'view',
  report: 'report',
  health: 'health',
};

const shared = new Map<FunctionName, App>();

/**
 * The process-wide app of function `fn` (its own database pool), built from `getConfig()` (read
 * once): refused, naming what to set, when a setting that function's feature needs is missing
 * or invalid.
 */
export function getApp(fn: FunctionName): App {
  const config = getConfig();
  requireFeature(config, FEATURE_OF[fn]);
  let app = shared.get(fn);
  if (app?.config !== config) shared.set(fn, (app = createApp(config, fn)));
  return app;
}

/** How the configuration shapes every letter (lib/letter): the same for a send and a preview. */
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

/** The Notion reporter for a mailout page, with the SES feedback counts read from the database. */
export function notionReporter(config: Config, db: Db, ledger: Ledger, client: Client | null): MailoutReporter {
  return client ? pageReporter(config, db, ledger, client) : silentReporter;
}

function pageReporter(config: Config, db: Db, ledger: Ledger, client: Client) {
  return createNotionReporter(client, config, { feedback: (id) => feedbackCountsOrNull(db, id), origin: (id) => ledger.origin(id) });
}

/** Writes a mailout's counts (ledger and SES feedback) onto its Notion page; undefined without Notion. */
export function countsRefresher(config: Config, db: Db, ledger: Ledger, client: Client | null): ((mailoutId: string) => Promise<void>) | undefined {
  if (!client) return undefined;
  const reporter = pageReporter(config, db, ledger, client);
  return async (mailoutId) => reporter.refreshCounts(mailoutId, await ledger.counts(mailoutId));
}

/** `countsRefresher` with a Notion client of its own (tests, and callers without an App). */
export function notionCountsRefresher(config: Config, db: Db): ((mailoutId: string) => Promise<void>) | undefined {
  return countsRefresher(config, db, createLedger(db), config.notion.token ? createNotionClient(config) : null);
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
