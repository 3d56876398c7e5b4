import { registerSecret } from '../log';
import { databaseOf, databaseVariables, registerDatabaseSecrets, type DbConfig } from './database';
import { readVariables, type Source, type Variables, type Values } from './env';
import { incomplete } from './errors';
import { featureRefusals, type Refusals } from './features';
import { letterOf, type LetterConfig } from './letter';
import { linksOf, type LinksConfig } from './links';
import { notionOf, notionVariables, type NotionConfig } from './notion';
import { sendingOf, type SendingConfig } from './sending';
import { keyPairProblem, sesOf, type SesConfig } from './ses';
import { snsOf, type SnsConfig } from './sns';
import { allVariables, type Variable } from './variables';

/**
 * Every environment variable, read and validated once. A missing or malformed variable is
 * named in the error together with what to set; secret values never appear in it.
 *
 * Variables that only one feature needs (Notion, the cron secret, the footer address) are
 * optional here; the feature that needs one refuses, naming it, when it is missing, so an
 * unsubscribe link keeps working while, say, the Notion token is being rotated.
 */

export interface Config extends LinksConfig, SesConfig, SendingConfig, SnsConfig, LetterConfig {
  db: DbConfig;
  notion: NotionConfig;
  /** Features a bad or missing setting stops, each with the message that names it (`requireFeature`). */
  refusals: Refusals;
}

const SECRET_VARIABLES: readonly Variable[] = [
  'EXECUTOR_SHARED_SECRET', 'SUPABASE_SERVICE_ROLE_KEY', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN',
  'NOTION_TOKEN', 'UNSUBSCRIBE_SECRET', 'CRON_SECRET', 'REPORT_SECRET',
];

const DATABASE_SETTINGS = Object.keys(databaseVariables) as Variable[];

/** The whole configuration, every variable valid (the command-line tools, which need all of it). */
export function loadConfig(source: Source = process.env): Config {
  const { problems } = readVariables(allVariables, source);
  if (problems.size) throw incomplete([...problems.values()]);
  return loadServedConfig(source, { strict: true });
}

/**
 * The configuration of a deployment: the database must be valid; any other bad setting is
 * kept in `refusals`, and only the features that need it refuse (`requireFeature`).
 */
export function loadServedConfig(source: Source = process.env, opts: { strict?: boolean } = {}): Config {
  // Only the features that need a missing or invalid variable read it, and they are refused.
  const { values: env, problems } = readVariables(allVariables, source);
  const dbProblems = DATABASE_SETTINGS.flatMap((n) => (problems.has(n) ? [problems.get(n)!] : []));
  if (dbProblems.length) throw incomplete(dbProblems);

  const db = databaseOf(env);
  if (!db) throw incomplete(['set SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY, or DATABASE_URL (a Postgres connection string)'], '');

  const keyPair = keyPairProblem(env);
  if (opts.strict && keyPair) throw incomplete([keyPair], '');

  const config: Config = {
    ...linksOf(env),
    db,
    ...sesOf(env),
    notion: notionOf(env),
    ...sendingOf(env),
    ...snsOf(env),
    ...letterOf(env),
    refusals: featureRefusals(env, problems),
  };
  for (const name of SECRET_VARIABLES) registerSecret(env[name] as string | undefined);
  registerDatabaseSecrets(db);
  return config;
}

/** One section of the configuration, alone: the same checks and messages as `loadConfig`. */
function loadSection<V extends Variables>(variables: V, source: Source): Values<V> {
  const { values, problems } = readVariables(variables, source);
  if (problems.size) throw incomplete([...problems.values()], 'Set them in .env.');
  return values;
}

/** The Notion section alone (`npm run setup:notion`, `npm run preview` without a complete configuration). */
export function loadNotionConfig(source: Source = process.env): NotionConfig {
  const env = loadSection(notionVariables, source);
  registerSecret(env.NOTION_TOKEN);
  return notionOf(env);
}

/**
 * The database section alone, for the tools that need nothing else (`npm run import`,
 * `npm run report`): the same variables, checks and rule as `loadConfig`. Null when no
 * database is set; a malformed or half-set one is an error that names what to set.
 */
export function loadDatabaseConfig(source: Source = process.env): DbConfig | null {
  const db = databaseOf(loadSection(databaseVariables, source));
  if (db) registerDatabaseSecrets(db);
  return db;
}

let cached: Config | undefined;

/** The process-wide configuration, read from process.env on first use. */
export function getConfig(): Config {
  cached ??= loadServedConfig(process.env);
  return cached;
}

/** Tests and scripts that change the environment call this to read it again. */
export function resetConfig(): void {
  cached = undefined;
}
