import { z } from 'zod';
import { AppError } from './errors';
import { checkEmail } from './email';
import { registerSecret } from './log';
import { parseNotionDatabaseId } from './mailout-id';
import { functionMaxDurationSeconds } from './vercel-functions';

/**
 * Every environment variable, read and validated once. A missing or malformed variable is
 * named in the error together with what to set; secret values never appear in it.
 *
 * Variables that only one feature needs (Notion, the cron secret, the footer address) are
 * optional here; the feature that needs one refuses, naming it, when it is missing, so an
 * unsubscribe link keeps working while, say, the Notion token is being rotated.
 */

// An empty value (`NAME=` in .env) counts as not set: "is not set" names the fix better.
const trimmed = z.preprocess((v) => (typeof v === 'string' ? v.trim() || undefined : v), z.string());
const optionalString = z.preprocess(
  (v) => (typeof v === 'string' && v.trim() === '' ? undefined : typeof v === 'string' ? v.trim() : v),
  z.string().optional(),
);
const GENERATE = 'generate one with: openssl rand -hex 32';
const secret = (min: number) => trimmed.pipe(z.string().min(min, `must be at least ${min} characters`));
const optionalSecret = (min: number, tooShort = `must be at least ${min} characters (${GENERATE})`) =>
  z.preprocess(
    (v) => (typeof v === 'string' && v.trim() === '' ? undefined : typeof v === 'string' ? v.trim() : v),
    z.string().min(min, tooShort).optional(),
  );
const intIn = (def: number, min: number, max: number) =>
  z.preprocess(
    (v) => (v === undefined || (typeof v === 'string' && v.trim() === '') ? def : Number(v)),
    z.number().int(`must be a whole number`).min(min, `must be at least ${min}`).max(max, `must be at most ${max}`),
  );
/** A whole number in [min, max], or undefined when unset. */
const optionalIntIn = (min: number, max: number) =>
  z.preprocess(
    (v) => (v === undefined || (typeof v === 'string' && v.trim() === '') ? undefined : Number(v)),
    z.number().int(`must be a whole number`).min(min, `must be at least ${min}`).max(max, `must be at most ${max}`).optional(),
  );
const numIn = (def: number, min: number, max: number) =>
  z.preprocess(
    (v) => (v === undefined || (typeof v === 'string' && v.trim() === '') ? def : Number(v)),
    z.number().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`),
  );
const httpUrl = trimmed.pipe(
  z
    .string()
    .url('must be a URL such as https://example.com')
    .refine((u) => /^https?:\/\//.test(u), 'must start with http:// or https://')
    .transform((u) => u.replace(/\/+$/, '')),
);
const optionalHttpUrl = z.preprocess((v) => (typeof v === 'string' && v.trim() === '' ? undefined : v), httpUrl.optional());
/** An address in its canonical form (lib/email.ts), or an issue saying why it is not one. */
const canonicalEmail = (refusal: (raw: string, reason: string) => string) =>
  z.string().transform((s, ctx) => {
    const c = checkEmail(s);
    if (!c.ok) ctx.addIssue({ code: 'custom', message: refusal(s, c.reason) });
    return c.ok ? c.email : s;
  });
const emailAddress = trimmed.pipe(canonicalEmail((_, reason) => `must be an email address such as news@example.com (${reason})`));
const list = z.preprocess(
  (v) =>
    typeof v === 'string'
      ? v
          .split(/[,\s]+/)
          .map((s) => s.trim())
          .filter(Boolean)
      : (v ?? []),
  z.array(z.string()),
);
/** Each address in its canonical form (lib/email.ts), each once, case-insensitively. */
const emailList = list.pipe(
  z
    .array(canonicalEmail((s, reason) => `must be a comma-separated list of email addresses (${s}: ${reason})`))
    .transform((xs) => xs.filter((x, i) => xs.findIndex((y) => y.toLowerCase() === x.toLowerCase()) === i)),
);

/** A Notion database (or data source) id or link, as its canonical dashed lower-case id. */
const optionalNotionDatabaseId = optionalString.pipe(
  z
    .string()
    .transform((v, ctx) => parseNotionDatabaseId(v) ?? (ctx.addIssue({ code: 'custom', message: 'is not a Notion database id or link' }), v))
    .optional(),
);

const envSchema = z.object({
  EXECUTOR_SHARED_SECRET: secret(16),
  APP_BASE_URL: httpUrl,
  // Read by lib/log.ts itself (logging starts before the configuration); validated here so a typo is named.
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),

  DATABASE_URL: optionalString.pipe(
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// connection string')
      .optional(),
  ),
  SUPABASE_URL: optionalHttpUrl,
  SUPABASE_SERVICE_ROLE_KEY: optionalSecret(20),
  SUPABASE_STORAGE_BUCKET: optionalString,

  AWS_REGION: trimmed.pipe(z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as eu-west-1')),
  AWS_ACCESS_KEY_ID: optionalString,
  AWS_SECRET_ACCESS_KEY: optionalString,
  AWS_SESSION_TOKEN: optionalString,
  SES_ENDPOINT: optionalHttpUrl,
  SES_FROM_EMAIL: emailAddress,
  SES_FROM_NAME: optionalString,
  SES_REPLY_TO: optionalString.pipe(canonicalEmail((_, reason) => `must be an email address (${reason})`).optional()),
  SES_CONFIGURATION_SET: optionalString,
  // Local stack and tests only: where the readiness checks ask SNS and DNS (lib/readiness).
  SNS_ENDPOINT: optionalHttpUrl,
  DNS_SERVERS: list.pipe(z.array(z.string().regex(/^[0-9.]+(:\d{1,5})?$|^\[[0-9a-f:]+\](:\d{1,5})?$/i, 'must be a comma-separated list of DNS servers (ip or ip:port)'))),

  NOTION_TOKEN: optionalSecret(
    8,
    'is too short for a Notion integration secret (it starts with ntn_ or secret_; copy it from notion.so/profile/integrations → your integration → Internal Integration Secret)',
  ),
  NOTION_MAILOUTS_DATABASE_ID: optionalNotionDatabaseId,
  NOTION_ERRORS_DATABASE_ID: optionalNotionDatabaseId,
  NOTION_BASE_URL: optionalHttpUrl,

  RATE_LIMIT_PER_SEC: numIn(6, 0.1, 1000),
  BATCH_SIZE: intIn(50, 1, 1000),
  // An upper bound only: unset, the sender finds the concurrency the rate needs (see lib/send/loop.ts).
  SEND_CONCURRENCY: optionalIntIn(1, 1000),
  LEASE_SECONDS: intIn(120, 10, 3600),
  // Outside Vercel only (the bench, a run with no platform deadline); the default is vercel.json's.
  MAX_DURATION_SECONDS: intIn(functionMaxDurationSeconds('api/send-mailout.ts'), 10, 900),
  SOFT_BOUNCE_LIMIT: intIn(3, 1, 100),
  SNS_ALLOWED_TOPIC_ARNS: list.pipe(
    z.array(z.string().regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]{1,256}$/, 'must be a comma-separated list of SNS topic ARNs (arn:aws:sns:<region>:<account>:<topic>)')),
  ),
  TEST_EMAILS: emailList,
  UNSUBSCRIBE_SECRET: optionalSecret(16),
  FOOTER_ADDRESS: optionalString,
  LIST_NAME: optionalString,
  CRON_SECRET: optionalSecret(16),
  REPORT_SECRET: optionalSecret(16),
  REPORT_LINK_DAYS: intIn(30, 1, 3650),
});

export type Env = z.infer<typeof envSchema>;

export type DbConfig =
  | { kind: 'supabase'; url: string; serviceRoleKey: string }
  | { kind: 'postgres'; url: string };

export interface Config {
  executorSecret: string;
  appBaseUrl: string;
  db: DbConfig;
  storageBucket?: string;
  aws: {
    region: string;
    endpoint?: string;
    /** SNS_ENDPOINT (local stack and tests); the readiness checks' SNS client. */
    snsEndpoint?: string;
    credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  };
  /** DNS_SERVERS (local stack and tests): the servers the DMARC check asks; empty: the system's. */
  dnsServers: string[];
  ses: { fromEmail: string; fromName?: string; replyTo?: string; configurationSet?: string };
  notion: { token?: string; mailoutsDatabaseId?: string; errorsDatabaseId?: string; baseUrl?: string };
  sending: {
    ratePerSec: number;
    batchSize: number;
    /** The most messages in flight at once (SEND_CONCURRENCY); unset: one second of sending. */
    concurrency?: number;
    leaseSeconds: number;
    maxDurationSeconds: number;
  };
  softBounceLimit: number;
  snsAllowedTopicArns: string[];
  testEmails: string[];
  /** UNSUBSCRIBE_SECRET: the key of both links in a letter, unsubscribe and the web version (lib/signed-link.ts). */
  unsubscribeSecret: string;
  /** REPORT_SECRET: the key of report links. */
  reportSecret: string;
  /** Days a report link opens the CSV (REPORT_LINK_DAYS). */
  reportLinkDays: number;
  cronSecret?: string;
  footerAddress?: string;
  listName?: string;
  /** Features a bad or missing setting stops, each with the message that names it (`requireFeature`). */
  refusals: Partial<Record<Feature, string>>;
}

/** Refuses (500, naming what to set) a feature whose settings are missing or invalid. */
export function requireFeature(config: Pick<Config, 'refusals'>, feature: Feature): void {
  const refusal = config.refusals[feature];
  if (refusal) throw new AppError('config', refusal);
}

/** What each variable is for, quoted in the error when it is missing or wrong. */
const HINTS: Partial<Record<keyof Env, string>> = {
  EXECUTOR_SHARED_SECRET: `the secret the Notion automation sends with each webhook; ${GENERATE}`,
  APP_BASE_URL: 'the public URL of this deployment, e.g. https://mailout.example.com',
  AWS_REGION: 'the SES region, e.g. eu-west-1',
  SES_FROM_EMAIL: 'a verified SES sender address',
  DATABASE_URL: 'a Postgres connection string',
  SUPABASE_URL: 'https://<project>.supabase.co',
  SUPABASE_SERVICE_ROLE_KEY: "the project's service_role key",
  NOTION_MAILOUTS_DATABASE_ID: 'the Mailouts database: only its pages are ever sent (`npm run setup:notion` prints it)',
};

function describeIssues(error: z.ZodError, variable?: keyof Env): string[] {
  return error.issues.map((issue) => {
    const name = variable ?? String(issue.path[0] ?? 'environment');
    const hint = HINTS[name as keyof Env];
    const problem = issue.code === 'invalid_type' && issue.message.includes('undefined') ? 'is not set' : issue.message;
    return `${name} ${problem}${hint ? ` (${hint})` : ''}`;
  });
}

/**
 * What each feature (endpoint) needs. A bad or missing setting refuses only the features
 * that list it: a cron secret typo must not stop readers from unsubscribing. The database
 * is every feature's, and a problem with it refuses everything.
 */
export type Feature = 'send' | 'writeback' | 'feedback' | 'report' | 'cron' | 'unsubscribe' | 'view' | 'health';

const NOTION_SETTINGS = ['NOTION_TOKEN', 'NOTION_MAILOUTS_DATABASE_ID', 'NOTION_ERRORS_DATABASE_ID', 'NOTION_BASE_URL'] as const;
const REPORT_SETTINGS = ['REPORT_SECRET', 'REPORT_LINK_DAYS'] as const;
const FEATURE_SETTINGS: Record<Feature, readonly (keyof Env)[]> = {
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
const DATABASE_SETTINGS: readonly (keyof Env)[] = ['DATABASE_URL', 'SUPABASE_URL', 'SUPABASE_SERVICE_ROLE_KEY'];

function incomplete(problems: string[], where = 'Set them in .env or the Vercel dashboard.'): AppError {
  return new AppError('config', `Configuration is incomplete: ${problems.join('; ')}. ${where}`, { details: { problems } });
}

/** Each variable on its own: the valid ones, and a problem (named, with its hint) per invalid one. */
function readEnv(source: Record<string, string | undefined>): { env: Env; problems: Map<keyof Env, string> } {
  const env: Record<string, unknown> = {};
  const problems = new Map<keyof Env, string>();
  for (const [name, schema] of Object.entries(envSchema.shape) as [keyof Env, z.ZodType][]) {
    const parsed = schema.safeParse(source[name]);
    if (parsed.success) env[name] = parsed.data;
    else problems.set(name, describeIssues(parsed.error, name).join('; '));
  }
  // Only the features that need a missing or invalid variable read it, and they are refused.
  return { env: env as Env, problems };
}

/** Why each feature cannot run, from the variables it needs (a derived secret needs the executor secret). */
function featureRefusals(env: Env, problems: Map<keyof Env, string>): Partial<Record<Feature, string>> {
  const needsExecutor = (secret: keyof Env) => (env[secret] || problems.has(secret) ? [] : (['EXECUTOR_SHARED_SECRET'] as const));
  const refusals: Partial<Record<Feature, string>> = {};
  for (const feature of Object.keys(FEATURE_SETTINGS) as Feature[]) {
    const names = new Set<keyof Env>(FEATURE_SETTINGS[feature]);
    if (names.has('UNSUBSCRIBE_SECRET')) needsExecutor('UNSUBSCRIBE_SECRET').forEach((n) => names.add(n));
    if (names.has('REPORT_SECRET')) needsExecutor('REPORT_SECRET').forEach((n) => names.add(n));
    const found = [...names].flatMap((n) => (problems.has(n) ? [problems.get(n)!] : []));
    if (feature === 'send' && Boolean(env.AWS_ACCESS_KEY_ID) !== Boolean(env.AWS_SECRET_ACCESS_KEY)) {
      found.push('set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither (to use a role)');
    }
    if (found.length) refusals[feature] = incomplete(found).message;
  }
  return refusals;
}

/** The whole configuration, every variable valid (the command-line tools, which need all of it). */
export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  const { problems } = readEnv(source);
  if (problems.size) throw incomplete([...problems.values()]);
  return loadServedConfig(source, { strict: true });
}

/**
 * The configuration of a deployment: the database must be valid; any other bad setting is
 * kept in `refusals`, and only the features that need it refuse (`requireFeature`).
 */
export function loadServedConfig(source: Record<string, string | undefined> = process.env, opts: { strict?: boolean } = {}): Config {
  const { env, problems } = readEnv(source);
  const dbProblems = DATABASE_SETTINGS.flatMap((n) => (problems.has(n) ? [problems.get(n)!] : []));
  if (dbProblems.length) throw incomplete(dbProblems);

  const db = databaseOf(env);
  if (!db) {
    throw new AppError(
      'config',
      'Configuration is incomplete: set SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY, or DATABASE_URL (a Postgres connection string).',
    );
  }

  if (opts.strict && Boolean(env.AWS_ACCESS_KEY_ID) !== Boolean(env.AWS_SECRET_ACCESS_KEY)) {
    throw new AppError('config', 'Configuration is incomplete: set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither (to use a role).');
  }

  const config: Config = {
    executorSecret: env.EXECUTOR_SHARED_SECRET,
    appBaseUrl: env.APP_BASE_URL,
    db,
    storageBucket: env.SUPABASE_STORAGE_BUCKET,
    aws: {
      region: env.AWS_REGION,
      endpoint: env.SES_ENDPOINT,
      snsEndpoint: env.SNS_ENDPOINT,
      credentials:
        env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
          ? {
              accessKeyId: env.AWS_ACCESS_KEY_ID,
              secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
              ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
            }
          : undefined,
    },
    ses: {
      fromEmail: env.SES_FROM_EMAIL,
      fromName: env.SES_FROM_NAME,
      replyTo: env.SES_REPLY_TO,
      configurationSet: env.SES_CONFIGURATION_SET,
    },
    dnsServers: env.DNS_SERVERS,
    notion: notionOf(env),
    sending: {
      ratePerSec: env.RATE_LIMIT_PER_SEC,
      batchSize: env.BATCH_SIZE,
      concurrency: env.SEND_CONCURRENCY,
      leaseSeconds: env.LEASE_SECONDS,
      maxDurationSeconds: env.MAX_DURATION_SECONDS,
    },
    softBounceLimit: env.SOFT_BOUNCE_LIMIT,
    snsAllowedTopicArns: env.SNS_ALLOWED_TOPIC_ARNS,
    testEmails: env.TEST_EMAILS,
    // Separate secrets are better; without them, purpose-bound keys are derived from the executor secret.
    unsubscribeSecret: env.UNSUBSCRIBE_SECRET ?? `unsubscribe:${env.EXECUTOR_SHARED_SECRET}`,
    reportSecret: env.REPORT_SECRET ?? `report:${env.EXECUTOR_SHARED_SECRET}`,
    reportLinkDays: env.REPORT_LINK_DAYS,
    cronSecret: env.CRON_SECRET,
    footerAddress: env.FOOTER_ADDRESS,
    listName: env.LIST_NAME,
    refusals: featureRefusals(env, problems),
  };

  for (const s of [
    env.EXECUTOR_SHARED_SECRET,
    env.SUPABASE_SERVICE_ROLE_KEY,
    env.AWS_SECRET_ACCESS_KEY,
    env.AWS_SESSION_TOKEN,
    env.NOTION_TOKEN,
    env.UNSUBSCRIBE_SECRET,
    env.CRON_SECRET,
    env.REPORT_SECRET,
  ]) {
    registerSecret(s);
  }
  registerDatabaseSecrets(db);
  return config;
}

/** One section of the configuration, alone: the same checks and messages as `loadConfig`. */
function loadSection<S extends z.ZodType>(schema: S, source: Record<string, string | undefined>): z.infer<S> {
  const parsed = schema.safeParse(source);
  if (!parsed.success) {
    const problems = describeIssues(parsed.error);
    throw new AppError('config', `Configuration is incomplete: ${problems.join('; ')}. Set them in .env.`, { details: { problems } });
  }
  return parsed.data;
}

const notionSchema = envSchema.pick({ NOTION_TOKEN: true, NOTION_MAILOUTS_DATABASE_ID: true, NOTION_ERRORS_DATABASE_ID: true, NOTION_BASE_URL: true });

/** The Notion section alone (`npm run setup:notion`, `npm run preview` without a complete configuration). */
export function loadNotionConfig(source: Record<string, string | undefined> = process.env): Config['notion'] {
  const env = loadSection(notionSchema, source);
  registerSecret(env.NOTION_TOKEN);
  return notionOf(env);
}

function notionOf(env: z.infer<typeof notionSchema>): Config['notion'] {
  return {
    token: env.NOTION_TOKEN,
    mailoutsDatabaseId: env.NOTION_MAILOUTS_DATABASE_ID,
    errorsDatabaseId: env.NOTION_ERRORS_DATABASE_ID,
    baseUrl: env.NOTION_BASE_URL,
  };
}

const databaseSchema = envSchema.pick({ DATABASE_URL: true, SUPABASE_URL: true, SUPABASE_SERVICE_ROLE_KEY: true });

/** The one database rule: Supabase when its variables are set (both, or it is an error), else DATABASE_URL, else none. */
function databaseOf(env: z.infer<typeof databaseSchema>): DbConfig | null {
  if (env.SUPABASE_URL || env.SUPABASE_SERVICE_ROLE_KEY) {
    if (!env.SUPABASE_URL || !env.SUPABASE_SERVICE_ROLE_KEY) {
      throw new AppError(
        'config',
        `Configuration is incomplete: set both SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY (only ${env.SUPABASE_URL ? 'SUPABASE_URL' : 'SUPABASE_SERVICE_ROLE_KEY'} is set).`,
      );
    }
    return { kind: 'supabase', url: env.SUPABASE_URL, serviceRoleKey: env.SUPABASE_SERVICE_ROLE_KEY };
  }
  return env.DATABASE_URL ? { kind: 'postgres', url: env.DATABASE_URL } : null;
}

/**
 * The database section alone, for the tools that need nothing else (`npm run import`,
 * `npm run report`): the same variables, checks and rule as `loadConfig`. Null when no
 * database is set; a malformed or half-set one is an error that names what to set.
 */
export function loadDatabaseConfig(source: Record<string, string | undefined> = process.env): DbConfig | null {
  const db = databaseOf(loadSection(databaseSchema, source));
  if (db) registerDatabaseSecrets(db);
  return db;
}

function registerDatabaseSecrets(db: DbConfig): void {
  if (db.kind === 'supabase') registerSecret(db.serviceRoleKey);
  else registerSecret(safePassword(db.url));
}

function safePassword(url: string): string | undefined {
  try {
    return decodeURIComponent(new URL(url).password) || undefined;
  } catch {
    return undefined;
  }
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
