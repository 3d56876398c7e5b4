import { AppError } from '../errors';
import { incomplete } from './errors';
import { keyPairProblem } from './ses';
import type { Env, Variable } from './variables';

/**
 * What each feature (endpoint) needs. A bad or missing setting refuses only the features
 * that list it: a cron secret typo must not stop readers from unsubscribing. The database
 * is every feature's, and a problem with it refuses everything.
 */
export type Feature = 'send' | 'writeback' | 'feedback' | 'report' | 'cron' | 'unsubscribe' | 'view' | 'health';

export type Refusals = Partial<Record<Feature, string>>;

const NOTION_SETTINGS = ['NOTION_TOKEN', 'NOTION_MAILOUTS_DATABASE_ID', 'NOTION_ERRORS_DATABASE_ID', 'NOTION_BASE_URL'] as const;
const REPORT_SETTINGS = ['REPORT_SECRET', 'REPORT_LINK_DAYS'] as const;
const FEATURE_SETTINGS: Record<Feature, readonly Variable[]> = {
  send: [
    'EXECUTOR_SHARED_SECRET', 'APP_BASE_URL', 'SUPABASE_STORAGE_BUCKET',
    'AWS_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN',
    'SES_ENDPOINT', 'SES_FROM_EMAIL', 'SES_FROM_NAME', 'SES_REPLY_TO', 'SES_CONFIGURATION_SET',
    ...NOTION_SETTINGS, ...REPORT_SETTINGS,
    'RATE_LIMIT_PER_SEC', 'BATCH_SIZE', 'SEND_CONCURRENCY', 'LEASE_SECONDS', 'MAX_DURATION_SECONDS',
    'TEST_EMAILS', 'UNSUBSCRIBE_SECRET', 'FOOTER_ADDRESS', 'LIST_NAME',
  ],
  // The Notion page's counts and report link, written after SES feedback and by the cron.
  writeback: ['APP_BASE_URL', ...NOTION_SETTINGS, ...REPORT_SETTINGS],
  feedback: ['SNS_ALLOWED_TOPIC_ARNS', 'SOFT_BOUNCE_LIMIT'],
  report: [...REPORT_SETTINGS],
  cron: ['CRON_SECRET', 'EXECUTOR_SHARED_SECRET', 'APP_BASE_URL'],
  unsubscribe: ['UNSUBSCRIBE_SECRET', 'LIST_NAME'],
  view: ['UNSUBSCRIBE_SECRET'],
  health: [],
};

/** Why each feature cannot run, from the variables it needs (a derived secret needs the executor secret). */
export function featureRefusals(env: Env, problems: Map<Variable, string>): Refusals {
  const needsExecutor = (secret: Variable) => (env[secret] || problems.has(secret) ? [] : (['EXECUTOR_SHARED_SECRET'] as const));
  const refusals: Refusals = {};
  for (const feature of Object.keys(FEATURE_SETTINGS) as Feature[]) {
    const names = new Set<Variable>(FEATURE_SETTINGS[feature]);
    if (names.has('UNSUBSCRIBE_SECRET')) needsExecutor('UNSUBSCRIBE_SECRET').forEach((n) => names.add(n));
    if (names.has('REPORT_SECRET')) needsExecutor('REPORT_SECRET').forEach((n) => names.add(n));
    const found = [...names].flatMap((n) => (problems.has(n) ? [problems.get(n)!] : []));
    const keyPair = feature === 'send' ? keyPairProblem(env) : undefined;
    if (keyPair) found.push(keyPair);
    if (found.length) refusals[feature] = incomplete(found).message;
  }
  return refusals;
}

/** Refuses (500, naming what to set) a feature whose settings are missing or invalid. */
export function requireFeature(config: { refusals: Refusals }, feature: Feature): void {
  const refusal = config.refusals[feature];
  if (refusal) throw new AppError('config', refusal);
}
