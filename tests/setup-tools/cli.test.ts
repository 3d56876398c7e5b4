import path from 'node:path';
import { ERROR_PROPERTIES, MAILOUT_PROPERTIES } from '../../lib/notion/schema';
import { FakeAws } from './fake-aws';
import { startFakeSqs, type FakeSqs } from '../fakes/sqs';
import { FakeNotion, specSchema } from './fake-notion';
import { cleanCliEnv, runCommand, type CommandResult } from '../helpers/run';

/** The command-line scripts, run as a user runs them (tsx), against the HTTP fakes. */

const ROOT = path.resolve(__dirname, '../..');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');

function run(script: string, args: string[], env: Record<string, string>): Promise<CommandResult> {
  return runCommand(TSX, [path.join(ROOT, 'scripts', script), ...args], { cwd: ROOT, env: { ...cleanCliEnv(), ...env } });
}

describe('npm run setup:notion', () => {
  let fake: FakeNotion;
  let env: Record<string, string>;

  beforeEach(async () => {
    fake = new FakeNotion();
    const baseUrl = await fake.start();
    env = { NOTION_TOKEN: fake.token, NOTION_BASE_URL: baseUrl, APP_BASE_URL: 'https://mailout.example.com' };
  });
  afterEach(async () => {
    await fake.stop();
  });

  test('--parent creates both databases, prints the env lines and the reminders, and is idempotent', async () => {
    const parent = fake.addPage();
    const first = await run('setup-notion.ts', ['--parent', `https://www.notion.so/acme/Newsletter-${parent.replace(/-/g, '')}`], env);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const dbs = fake.databasesUnder(parent);
    const id = (title: string) => dbs.find((d) => d.title === title)!.id;
    // Russian by default: our publishers' language.
    expect(first.stdout).toContain(`NOTION_MAILOUTS_DATABASE_ID=${id('Письма')}`);
    expect(first.stdout).toContain(`NOTION_ERRORS_DATABASE_ID=${id('Ошибки')}`);
    expect(first.stdout).toContain('Share the page');
    expect(first.stdout).toContain('"Send webhook" to https://mailout.example.com/api/send-mailout');
    expect(first.stdout).toContain('Authorization: Bearer <EXECUTOR_SHARED_SECRET>');
    expect(first.stdout + first.stderr).not.toContain(fake.token);
    expect(fake.writes()).toHaveLength(2);

    fake.requests.length = 0;
    const second = await run('setup-notion.ts', ['--parent', parent], env);
    expect(second.code).toBe(0);
    expect(fake.writes()).toEqual([]);
    expect(second.stdout).toContain(`NOTION_MAILOUTS_DATABASE_ID=${id('Письма')}`);
  });

  test('--dry-run writes nothing and prints the plan', async () => {
    const parent = fake.addPage();
    const result = await run('setup-notion.ts', ['--parent', parent, '--lang', 'en', '--dry-run'], env);
    expect(result.code).toBe(0);
    expect(fake.writes()).toEqual([]);
    expect(result.stdout).toContain('Dry run');
    expect(result.stdout).toContain('would create database "Mailouts"');
    expect(result.stdout).toContain('would create database "Errors"');
  });

  test('checking databases with the env ids names what is missing and exits 1 on a wrong type', async () => {
    const parent = fake.addPage();
    const mailouts = fake.addDatabase(parent, 'Mailouts', { ...specSchema(MAILOUT_PROPERTIES.filter((p) => p.role !== 'bounced')), Bounced: { type: 'checkbox' } });
    const errors = fake.addDatabase(parent, 'Errors', specSchema(ERROR_PROPERTIES.filter((p) => p.role !== 'message')));

    const result = await run('setup-notion.ts', ['--dry-run'], {
      ...env,
      NOTION_MAILOUTS_DATABASE_ID: mailouts.databaseId,
      NOTION_ERRORS_DATABASE_ID: errors.databaseId,
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('"Errors" is missing "Message"');
    expect(result.stdout).toContain('"Mailouts"."Bounced" is a checkbox property; the executor needs number');
    expect(fake.writes()).toEqual([]);
  });

  test('exit codes: 2 for bad usage, 1 when Notion refuses', async () => {
    expect((await run('setup-notion.ts', [], env)).code).toBe(2);
    expect((await run('setup-notion.ts', ['--parent'], env)).code).toBe(2);
    expect((await run('setup-notion.ts', ['--parent', 'not-a-page'], env)).code).toBe(2);
    expect((await run('setup-notion.ts', ['--parnet', 'x'], env)).code).toBe(2);
    const noToken = await run('setup-notion.ts', ['--parent', fake.addPage()], { ...env, NOTION_TOKEN: '' });
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toContain('NOTION_TOKEN is not set');
    expect(fake.requests).toEqual([]);

    const unshared = await run('setup-notion.ts', ['--parent', '0123456789abcdef0123456789abcdef'], env);
    expect(unshared.code).toBe(1);
    expect(unshared.stderr).toMatch(/setup:notion failed: .*Share the page/);
  });
});

describe('npm run setup:aws', () => {
  let fake: FakeAws;
  let sqs: FakeSqs;
  let env: Record<string, string>;
  const secretKey = 'cli-test-secret-access-key-123';

  beforeEach(async () => {
    fake = new FakeAws();
    const endpoint = await fake.start();
    sqs = await startFakeSqs({ region: 'eu-west-1', accountId: fake.accountId });
    env = {
      SQS_ENDPOINT: sqs.url,
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'AKIDCLITEST',
      AWS_SECRET_ACCESS_KEY: secretKey,
      APP_BASE_URL: 'https://mailout.example.com',
      SES_FROM_EMAIL: 'news@example.com',
      SNS_ENDPOINT: endpoint,
      SES_ENDPOINT: endpoint,
    };
  });
  afterEach(async () => {
    await fake.stop();
    await sqs.close();
  });

  test('sets everything up, prints the env lines and the policy, and a second run writes nothing', async () => {
    const first = await run('setup-aws.ts', [], env);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const topicArn = fake.topicArn('mailout-ses-events');
    expect(first.stdout).toContain(`SNS_ALLOWED_TOPIC_ARNS=${topicArn}`);
    expect(first.stdout).toContain('SES_CONFIGURATION_SET=mailout');
    expect(first.stdout).toContain('pending confirmation');
    const policy = JSON.parse(first.stdout.slice(first.stdout.indexOf('{', first.stdout.indexOf('IAM policy'))));
    expect(policy.Statement.map((s: { Action: string }) => s.Action)).toEqual([
      'ses:SendEmail',
      'ses:GetAccount',
      'ses:GetEmailIdentity',
      ['ses:GetConfigurationSet', 'ses:GetConfigurationSetEventDestinations'],
      'sns:ListSubscriptionsByTopic',
      ['sqs:GetQueueUrl', 'sqs:ReceiveMessage', 'sqs:DeleteMessage'],
    ]);
    expect(first.stdout + first.stderr).not.toContain(secretKey);
    expect(fake.writes().map((w) => w.operation)).toEqual([
      'CreateTopic',
      'Subscribe',
      'CreateConfigurationSet',
      'CreateConfigurationSetEventDestination',
    ]);

    fake.confirmAll();
    fake.requests.length = 0;
    const second = await run('setup-aws.ts', [], env);
    expect(second.code).toBe(0);
    expect(fake.writes()).toEqual([]);
    expect(second.stdout).toContain(`SNS_ALLOWED_TOPIC_ARNS=${topicArn}`);
  });

  test('--dry-run makes only read calls', async () => {
    const result = await run('setup-aws.ts', ['--dry-run'], env);
    expect(result.code).toBe(0);
    expect(fake.writes()).toEqual([]);
    expect(fake.requests.length).toBeGreaterThan(0);
    expect(result.stdout).toContain('would create SNS topic "mailout-ses-events"');
  });

  test('--policy-only prints just the policy JSON', async () => {
    const result = await run('setup-aws.ts', ['--policy-only'], { ...env, APP_BASE_URL: '' });
    expect(result.code).toBe(0);
    expect(fake.operations()).toEqual(['GetCallerIdentity']);
    const policy = JSON.parse(result.stdout);
    expect(policy.Statement[0].Resource).toContain('arn:aws:ses:eu-west-1:123456789012:configuration-set/mailout');
  });

  test('--policy-only needs no credentials and no network: the account is *, or the one given with --account', async () => {
    const noCredentials = { AWS_REGION: 'eu-west-1', SES_FROM_EMAIL: 'news@example.com', SNS_ENDPOINT: env.SNS_ENDPOINT! };
    const anyAccount = await run('setup-aws.ts', ['--policy-only'], noCredentials);
    expect(anyAccount.code).toBe(0);
    expect(anyAccount.stderr).toContain('No AWS credentials: the policy names any account (*). Pass --account 123456789012 to name yours.');
    expect(JSON.parse(anyAccount.stdout).Statement[0].Resource).toContain('arn:aws:ses:eu-west-1:*:configuration-set/mailout');

    const given = await run('setup-aws.ts', ['--policy-only', '--account', '210987654321'], { ...env, APP_BASE_URL: '' });
    expect(given.code).toBe(0);
    expect(JSON.parse(given.stdout).Statement[0].Resource).toContain('arn:aws:ses:eu-west-1:210987654321:identity/news@example.com');
    expect(fake.requests).toEqual([]);
    expect((await run('setup-aws.ts', ['--policy-only', '--account', '12345'], env)).code).toBe(2);
  });

  test('exit codes: 2 for bad usage, 1 when AWS refuses', async () => {
    const noBase = await run('setup-aws.ts', [], { ...env, APP_BASE_URL: '' });
    expect(noBase.code).toBe(2);
    expect(noBase.stderr).toContain('APP_BASE_URL is not set');
    const http = await run('setup-aws.ts', [], { ...env, APP_BASE_URL: 'http://mailout.example.com' });
    expect(http.code).toBe(2);
    expect(http.stderr).toContain('--allow-http');
    expect((await run('setup-aws.ts', ['--frobnicate'], env)).code).toBe(2);
    expect((await run('setup-aws.ts', [], { ...env, AWS_REGION: '' })).code).toBe(2);
    expect(fake.requests).toEqual([]);

    fake.failures.set('ListTopics', { status: 403, code: 'AuthorizationError', message: 'not authorized to perform SNS:ListTopics' });
    const refused = await run('setup-aws.ts', [], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/setup:aws failed: AWS refused to list SNS topics/);
    expect(refused.stdout + refused.stderr).not.toContain(secretKey);
  });
});
