import { loadConfig, type Config } from '../../lib/config';
import { createLedger } from '../../lib/db/ledger';
import type { Check } from '../../lib/readiness';
import { renderMailout } from '../../lib/render';
import { silentReporter, type MailoutReporter } from '../../lib/mailout-reporter';
import type { LoadedLetter } from '../../lib/letter';
import { mailoutIdFromName } from '../../lib/mailout-id';
import type { SendDeps } from '../../lib/send';
import { createSesClient } from '../../lib/ses';
import { startFakeSes, type FakeSes } from '../../scripts/fakes/ses';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

/** The environment of a test sender (for loadConfig, or for a sender in its own process). */
export function testEnv(t: TestDatabase, sesUrl: string, env: Record<string, string> = {}): Record<string, string> {
  return {
    EXECUTOR_SHARED_SECRET: 'test-executor-secret-0123456789',
    APP_BASE_URL: 'https://mailout.example.com',
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'AKIDTEST',
    AWS_SECRET_ACCESS_KEY: 'test-secret-key',
    SES_ENDPOINT: sesUrl,
    SES_FROM_EMAIL: 'news@example.com',
    SES_FROM_NAME: 'Example News',
    DATABASE_URL: t.url,
    RATE_LIMIT_PER_SEC: '1000',
    BATCH_SIZE: '50',
    TEST_EMAILS: 'editor@example.com,second@example.com',
    FOOTER_ADDRESS: 'Example Publishing, 1 Main St',
    ...env,
  };
}

export function testConfig(t: TestDatabase, sesUrl: string, env: Record<string, string> = {}): Config {
  return loadConfig(testEnv(t, sesUrl, env));
}

export function letter(subject = 'Hello readers', body = 'Hi {{name|friend}}, this is **the** letter.\n\n- one\n- two'): LoadedLetter {
  const rendered = renderMailout({ markdown: body, subject, footerAddress: 'Example Publishing, 1 Main St' });
  // The send takes its mailout id from the request, not from the letter.
  return { mailoutId: mailoutIdFromName(subject), letter: rendered, test: false, warnings: [], origin: 'notion' };
}

/** These tests are about sending: a sender that passes its readiness checks (tests/readiness tests the checks). */
export const readySender = async (): Promise<Check[]> => [{ status: 'ok', name: 'Sender readiness', detail: 'ready (test double)', fix: '' }];

/** `overrides.db` (a slow or failing database) is the ledger's database too. */
export function sendDeps(config: Config, t: TestDatabase, overrides: Partial<SendDeps> = {}): SendDeps {
  return {
    config,
    db: t.db,
    ledger: overrides.db ? createLedger(overrides.db) : t.ledger,
    ses: createSesClient(config),
    reporter: silentReporter as MailoutReporter,
    loadLetter: async () => letter(),
    // The page's membership is lib/notion/membership's (tests/send/mailouts-only.test.ts).
    admitContinuation: async () => undefined,
    readiness: readySender,
    deadline: () => Date.now() + 300_000,
    safetyMarginMs: 0,
    sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 5))),
    ...overrides,
  };
}

/**
 * A database and the fake SES (a fast account) for one test file: made before its tests,
 * closed after them, kept between its tests (which build on each other's state).
 * Read `bed.t` and `bed.ses` inside tests.
 */
export function sendTestBed(): { t: TestDatabase; ses: FakeSes } {
  const bed = {} as { t: TestDatabase; ses: FakeSes };
  beforeAll(async () => {
    bed.t = await createTestDatabase();
    bed.ses = await startFakeSes({ account: { SendQuota: { Max24HourSend: -1, MaxSendRate: 5000 } } });
  });
  afterAll(async () => {
    await bed.ses?.close();
    await bed.t?.drop();
  });
  return bed;
}

/** The same bed, emptied before each test. */
export function useSendTestBed(): { t: TestDatabase; ses: FakeSes } {
  const bed = sendTestBed();
  beforeEach(async () => {
    bed.ses.reset();
    await bed.t.pool.query('truncate subscribers, mailouts, deliveries, test_sends, ses_events cascade');
  });
  return bed;
}
