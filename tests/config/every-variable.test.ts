import fs from 'node:fs';
import path from 'node:path';
import { loadConfig, loadServedConfig } from '../../lib/config';
import type { AppError } from '../../lib/errors';
import { log, setLogSink } from '../../lib/log';
import { allVariables, type Variable } from '../../lib/config/variables';

/**
 * Every variable of the configuration, one row each: blank is unset (its default, or the
 * refusal that says it is not set), and whatever is wrong with it is refused naming it,
 * never quoting a secret. A new variable needs a row here (the table is typed by them).
 */

const ROOT = path.resolve(__dirname, '..', '..');

/** A valid value of each variable, and one it refuses (none: any text is accepted). */
const ROWS: Record<Variable, { valid: string; invalid?: string }> = {
  // links.ts
  EXECUTOR_SHARED_SECRET: { valid: 'every-variable-executor-secret-01', invalid: 'Zq9-short' },
  APP_BASE_URL: { valid: 'https://mailout.example.com/', invalid: 'mailout' },
  UNSUBSCRIBE_SECRET: { valid: 'every-variable-unsubscribe-secret', invalid: 'Zq9-short' },
  REPORT_SECRET: { valid: 'every-variable-report-secret-0123', invalid: 'Zq9-short' },
  REPORT_LINK_DAYS: { valid: '7', invalid: 'forever' },
  CRON_SECRET: { valid: 'every-variable-cron-secret-012345', invalid: 'Zq9-short' },
  // logging.ts
  LOG_LEVEL: { valid: 'error', invalid: 'loud' },
  // database.ts
  DATABASE_URL: { valid: 'postgres://u:p@127.0.0.1:5432/db', invalid: 'mysql://u:p@127.0.0.1/db' },
  SUPABASE_URL: { valid: 'https://project.supabase.co', invalid: 'project.supabase.co' },
  SUPABASE_SERVICE_ROLE_KEY: { valid: 'every-variable-service-role-key-0123', invalid: 'Zq9-short' },
  // ses.ts: AWS
  AWS_REGION: { valid: 'eu-west-1', invalid: 'the-moon' },
  AWS_ACCESS_KEY_ID: { valid: 'AKIDEVERYVARIABLE' },
  AWS_SECRET_ACCESS_KEY: { valid: 'every-variable-aws-secret' },
  AWS_SESSION_TOKEN: { valid: 'every-variable-session-token' },
  // ses.ts: the sender
  SES_ENDPOINT: { valid: 'http://127.0.0.1:9', invalid: 'ftp://ses' },
  SES_FROM_EMAIL: { valid: 'news@example.com', invalid: 'not an address' },
  SES_FROM_NAME: { valid: 'Новости' },
  SES_REPLY_TO: { valid: 'editor@example.com', invalid: 'editor@localhost' },
  SES_CONFIGURATION_SET: { valid: 'mailout' },
  // ses.ts: the readiness checks' SNS and DNS
  SNS_ENDPOINT: { valid: 'http://127.0.0.1:9', invalid: 'nowhere' },
  DNS_SERVERS: { valid: '127.0.0.1:53', invalid: 'dns.example' },
  // notion.ts
  NOTION_TOKEN: { valid: 'ntn_every_variable_token', invalid: 'Zq9-sh' },
  NOTION_MAILOUTS_DATABASE_ID: { valid: '11111111222243338444555555555555', invalid: 'not-an-id' },
  NOTION_ERRORS_DATABASE_ID: { valid: '22222222333344448555666666666666', invalid: 'not-an-id' },
  NOTION_BASE_URL: { valid: 'http://127.0.0.1:9', invalid: 'nowhere' },
  // sending.ts: pace and time
  RATE_LIMIT_PER_SEC: { valid: '14', invalid: 'fast' },
  BATCH_SIZE: { valid: '20', invalid: '0' },
  SEND_CONCURRENCY: { valid: '4', invalid: '1.5' },
  LEASE_SECONDS: { valid: '60', invalid: '5' },
  MAX_DURATION_SECONDS: { valid: '120', invalid: '901' },
  // sending.ts: test recipients
  TEST_EMAILS: { valid: 'editor@example.com, Editor@example.com', invalid: 'editor@' },
  // sns.ts
  SNS_ALLOWED_TOPIC_ARNS: { valid: 'arn:aws:sns:eu-west-1:123456789012:ses-feedback', invalid: 'topic' },
  SOFT_BOUNCE_LIMIT: { valid: '2', invalid: '0' },
  // letter.ts
  FOOTER_ADDRESS: { valid: 'ООО «Пример», Москва' },
  LIST_NAME: { valid: 'Новости недели' },
  SUPABASE_STORAGE_BUCKET: { valid: 'mailout-images' },
};
const NAMES = Object.keys(ROWS) as Variable[];
const everySet = Object.fromEntries(NAMES.map((n) => [n, ROWS[n].valid]));
/** The least a complete configuration needs: every variable with no default and no alternative. */
const required = NAMES.filter((n) => !allVariables[n].safeParse(undefined).success);
const minimal = Object.fromEntries([...required, 'DATABASE_URL'].map((n) => [n, ROWS[n as Variable].valid]));
const isSecret = (n: string) => /SECRET|_KEY$|TOKEN/.test(n);

/** What the configuration makes of an environment: the configuration (refusals included) or the error. */
function outcome(source: Record<string, string | undefined>): { strict: string; served: string } {
  const attempt = (load: () => unknown) => {
    try {
      return JSON.stringify(load());
    } catch (err) {
      return (err as Error).message;
    }
  };
  return { strict: attempt(() => loadConfig(source)), served: attempt(() => loadServedConfig(source)) };
}

/** The problems `loadConfig` lists, each a variable's (the error's details). */
function problemsOf(source: Record<string, string>): unknown {
  try {
    loadConfig(source);
    return [];
  } catch (err) {
    return (err as AppError).details?.problems;
  }
}

function without(source: Record<string, string>, name: string): Record<string, string> {
  const { [name]: _, ...rest } = source;
  return rest;
}

test('the table has a row for each variable the configuration reads', () => {
  expect(NAMES.sort()).toEqual(Object.keys(allVariables).sort());
  expect(required.sort()).toEqual(['APP_BASE_URL', 'AWS_REGION', 'EXECUTOR_SHARED_SECRET', 'SES_FROM_EMAIL']);
});

test.each(NAMES)('%s left empty or as spaces is unset: its default, or the same refusal', (name) => {
  for (const base of [everySet, minimal]) {
    const unset = outcome(without(base, name));
    expect(outcome({ ...base, [name]: '' })).toEqual(unset);
    expect(outcome({ ...base, [name]: '   ' })).toEqual(unset);
    expect(outcome({ ...base, [name]: '\t \n' })).toEqual(unset);
  }
});

test.each(required)('%s unset is refused as "is not set", naming it', (name) => {
  expect(outcome(without(minimal, name)).strict).toMatch(new RegExp(`^Configuration is incomplete: ${name} is not set \\(`));
  expect(outcome({ ...minimal, [name]: '  ' }).strict).toMatch(new RegExp(`^Configuration is incomplete: ${name} is not set \\(`));
});

test.each(NAMES.filter((n) => ROWS[n].invalid !== undefined))('an invalid %s is refused naming it, never quoting a secret', (name) => {
  const invalid = ROWS[name].invalid!;
  const message = outcome({ ...minimal, [name]: invalid }).strict;
  expect(message).toMatch(new RegExp(`^Configuration is incomplete: ${name} \\S`));
  if (isSecret(name)) expect(message).not.toContain(invalid);
  // With every other variable set, the one problem is this variable's, and it names it first.
  expect(problemsOf({ ...everySet, [name]: invalid })).toEqual([expect.stringMatching(new RegExp(`^${name} \\S`))]);
});

test('each valid value is taken trimmed, and the configuration of every variable set loads', () => {
  const spaced = Object.fromEntries(NAMES.map((n) => [n, `  ${ROWS[n].valid}  `]));
  expect(outcome(spaced)).toEqual(outcome(everySet));
  expect(outcome(everySet).strict).toMatch(/^\{/);
  const config = loadConfig(everySet);
  expect(config).toMatchObject({ appBaseUrl: 'https://mailout.example.com', testEmails: ['editor@example.com'], listName: 'Новости недели' });
});

test('every secret the configuration reads is masked in the logs once it is loaded', () => {
  const secrets = NAMES.filter(isSecret);
  expect(secrets).toHaveLength(8);
  loadConfig(everySet);
  const lines: string[] = [];
  const previous = setLogSink((line) => lines.push(line));
  try {
    for (const name of secrets) log.error('config.secret', { name, value: ROWS[name].valid });
  } finally {
    setLogSink(previous);
  }
  expect(lines).toHaveLength(secrets.length);
  for (const [i, name] of secrets.entries()) {
    expect({ name, masked: !lines[i]!.includes(ROWS[name].valid) && lines[i]!.includes('***') }).toEqual({ name, masked: true });
  }
});

test('.env.example lists every variable the configuration reads', () => {
  const example = fs.readFileSync(path.join(ROOT, '.env.example'), 'utf8');
  const listed = new Set([...example.matchAll(/^(?:#\s*)?([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]!));
  expect(NAMES.filter((n) => !listed.has(n))).toEqual([]);
});
