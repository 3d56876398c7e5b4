import path from 'node:path';
import { ERROR_PROPERTIES, MAILOUT_PROPERTIES, type PropertySpec } from '../../lib/notion/schema';
import { startFakeNotion, type FakeNotion } from '../../scripts/fakes/notion';
import { createTestDatabase, seedSubscribers, type TestDatabase } from '../helpers/db';
import { cleanCliEnv, runCommand, type CommandResult } from '../helpers/run';
import { startReadySender, type ReadySender } from './ready-sender';

/**
 * `npm run doctor` as a user runs it: one line per check (✔ ⚠ ✖) with its fix, exit 0 when
 * ready, 1 while a ✖ remains, 2 on a usage or configuration error. SES, SNS, DNS and Notion
 * at their boundaries, a real migrated Postgres.
 */

const ROOT = path.resolve(__dirname, '../..');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');
let t: TestDatabase;
let s: ReadySender;
let notion: FakeNotion;
let env: Record<string, string>;

/** A data source's properties as Notion returns them: `{ Name: { id, name, type, title: {} } }`. */
const properties = (specs: PropertySpec[]) => Object.fromEntries(specs.map((p) => [p.names.en, { id: p.role, name: p.names.en, type: p.type, [p.type]: {} }]));

function doctor(args: string[] = [], extra: Record<string, string> = {}): Promise<CommandResult> {
  return runCommand(TSX, [path.join(ROOT, 'scripts/doctor.ts'), ...args], { cwd: ROOT, env: { ...cleanCliEnv(), ...env, ...extra } });
}

beforeAll(async () => {
  t = await createTestDatabase();
  await seedSubscribers(t.pool, 12);
  notion = await startFakeNotion({ token: 'secret_doctor_test' });
});
afterAll(async () => {
  await notion.close();
  await t.drop();
});
beforeEach(async () => {
  s = await startReadySender();
  notion.databases.clear();
  notion.dataSources.clear();
  const mailouts = notion.addDatabase({ title: 'Mailouts', properties: properties(MAILOUT_PROPERTIES) });
  const errors = notion.addDatabase({ title: 'Errors', properties: properties(ERROR_PROPERTIES) });
  env = {
    ...s.env,
    DATABASE_URL: t.url,
    NOTION_TOKEN: 'secret_doctor_test',
    NOTION_BASE_URL: notion.url,
    NOTION_MAILOUTS_DATABASE_ID: mailouts.databaseId,
    NOTION_ERRORS_DATABASE_ID: errors.databaseId,
    CRON_SECRET: 'doctor-cron-secret-0123456789',
  };
});
afterEach(async () => {
  await s.close();
});

test('a ready setup: every line ✔ (the safety net without pg_cron ⚠), exit 0', async () => {
  const r = await doctor();
  expect(r.stderr).not.toMatch(/doctor failed/);
  expect(r.code).toBe(0);
  const marks = r.stdout.split('\n').filter((l) => /^[✔⚠✖] /.test(l));
  expect(marks).toEqual([
    '✔ SES account: production access, sending enabled, 50,000 of 50,000 sends left in 24 hours for 12 recipients, max 14/s',
    '✔ Sender identity (news@example.com): example.com (DOMAIN) is verified for sending',
    '✔ DKIM: Easy DKIM signs as example.com (SUCCESS)',
    '✔ Custom MAIL FROM: bounce.example.com (SUCCESS): SPF aligned',
    '✔ DMARC (example.com): _dmarc.example.com: p=quarantine',
    `✔ Configuration set (mailout): publishes SEND, REJECT, BOUNCE, COMPLAINT, DELIVERY to ${s.topicArn}`,
    `✔ SNS subscription: https://mailout.example.com/api/ses-events is confirmed on ${s.topicArn}`,
    '✔ Footer address: Example Publishing, 1 Main St',
    `✔ Notion Mailouts: database ${env.NOTION_MAILOUTS_DATABASE_ID} is shared and has its ${MAILOUT_PROPERTIES.length} properties`,
    `✔ Notion Errors: database ${env.NOTION_ERRORS_DATABASE_ID} is shared and has its ${ERROR_PROPERTIES.length} properties`,
    '⚠ Resume safety net: the pg_cron job mailout-resume is not installed: only the daily Vercel cron resumes',
    expect.stringMatching(/^✔ Database migrations: all \d+ applied$/),
    '✔ Ready for a live send (1 warning(s)).',
  ]);
  expect(r.stdout).toContain('    fix: Run npm run setup:cron.');
});

test('a broken setup: each ✖ with its fix, exit 1', async () => {
  s.aws.addIdentity('example.com', { DkimAttributes: { SigningEnabled: true, Status: 'PENDING', Tokens: ['abc'] } });
  s.aws.subscriptions[0]!.pending = true;
  s.txt.clear();
  const mailouts = notion.dataSources.get([...notion.dataSources.keys()][0]!)!;
  delete (mailouts.properties as Record<string, unknown>).Status;
  const r = await doctor([], { FOOTER_ADDRESS: '', CRON_SECRET: '' });
  expect(r.code).toBe(1);
  const failed = r.stdout.split('\n').filter((l) => l.startsWith('✖ '));
  expect(failed).toEqual([
    '✖ DKIM: Easy DKIM status of example.com is PENDING, not SUCCESS',
    expect.stringMatching(/^✖ SNS subscription: the subscription of https:\/\/mailout.example.com\/api\/ses-events .* is pending confirmation/),
    expect.stringMatching(/^✖ Footer address: FOOTER_ADDRESS is not set/),
    expect.stringMatching(/^✖ Notion Mailouts: database .* lacks Status \(select, missing\)/),
    '✖ Not ready: 4 check(s) refuse a live send, 2 warning(s).',
  ]);
  expect(r.stdout).toContain('⚠ DMARC (example.com): no DMARC record');
  expect(r.stdout).toContain('    fix: Publish the DKIM CNAME records SES lists for example.com (abc._domainkey)');
  expect(r.stdout).toContain('    fix: Set CRON_SECRET');
});

test('a Notion database not shared with the integration refuses', async () => {
  const r = await doctor([], { NOTION_ERRORS_DATABASE_ID: '0123456789abcdef0123456789abcdef' });
  expect(r.code).toBe(1);
  expect(r.stdout).toMatch(/✖ Notion Errors: database 01234567-89ab-cdef-0123-456789abcdef is not found or not shared with the integration/);
});

test('a configuration error exits 2 naming the variable; so does an unknown argument', async () => {
  const bad = await doctor([], { AWS_REGION: 'Frankfurt' });
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/AWS_REGION must be an AWS region/);
  const usage = await doctor(['--fix']);
  expect(usage.code).toBe(2);
  expect(usage.stderr).toMatch(/usage: npm run doctor/);
});
