import path from 'node:path';
import { startLocalStack } from '../../scripts/local/stack';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

/**
 * `npm start` fills a local default for every variable left unset, and a variable left empty
 * or as spaces is unset there as everywhere in the configuration (lib/config `env`).
 */
const ROOT = path.join(__dirname, '..', '..');
let t: TestDatabase;

// A database of its own (no embedded Postgres); not persistent, so nothing is written to disk.
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t.drop());

test('a variable left as spaces takes the local default, as an unset one does', async () => {
  const blank = '   ';
  const env: NodeJS.ProcessEnv = {
    DATABASE_URL: t.url,
    SUPABASE_URL: blank,
    SES_ENDPOINT: blank,
    EXECUTOR_SHARED_SECRET: blank,
    APP_BASE_URL: blank,
    AWS_REGION: blank,
    AWS_ACCESS_KEY_ID: blank,
    AWS_SECRET_ACCESS_KEY: blank,
    SES_FROM_EMAIL: blank,
    SES_FROM_NAME: blank,
    FOOTER_ADDRESS: '',
    TEST_EMAILS: blank,
    SNS_ALLOWED_TOPIC_ARNS: blank,
  };
  const stack = await startLocalStack({ rootDir: ROOT, env, persistent: false });
  try {
    // SUPABASE_URL as spaces is not a Supabase project: the database is migrated and used.
    expect(stack.databaseUrl).toBe(t.url);
    expect(stack.inboxUrl).toBe(stack.sesUrl);
    expect(stack.secret).toMatch(/^[0-9a-f]{48}$/);
    expect(env).toMatchObject({
      SES_ENDPOINT: stack.sesUrl,
      EXECUTOR_SHARED_SECRET: stack.secret,
      APP_BASE_URL: stack.apiUrl,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local-secret',
      SES_FROM_EMAIL: 'newsletter@example.com',
      SES_FROM_NAME: 'Local Newsletter',
      FOOTER_ADDRESS: 'Example Publishing, 1 Main Street, Springfield',
      TEST_EMAILS: 'editor@example.com',
    });
    // The local feedback topic (the emulator's ready sender names it), never the spaces.
    expect(env.SNS_ALLOWED_TOPIC_ARNS).toMatch(/^arn:aws:sns:[a-z0-9-]+:000000000000:mailout-local-feedback$/);
  } finally {
    await stack.stop();
  }
});

test('a value that is set is kept', async () => {
  const env: NodeJS.ProcessEnv = { DATABASE_URL: t.url, EXECUTOR_SHARED_SECRET: 'given-secret-0123456789abcdef', AWS_REGION: 'eu-west-1' };
  const stack = await startLocalStack({ rootDir: ROOT, env, persistent: false });
  try {
    expect(stack.secret).toBe('given-secret-0123456789abcdef');
    expect(env.AWS_REGION).toBe('eu-west-1');
  } finally {
    await stack.stop();
  }
});
