import * as cron from '../../api/cron/resume';
import * as health from '../../api/health';
import * as report from '../../api/report';
import * as sendMailout from '../../api/send-mailout';
import * as sesEvents from '../../api/ses-events';
import * as unsubscribe from '../../api/unsubscribe';
import * as view from '../../api/view';
import { loadConfig, resetConfig } from '../../lib/config';
import { reportUrl } from '../../lib/report';
import { unsubscribeToken } from '../../lib/unsubscribe/token';
import { viewUrl } from '../../lib/view';
import { createTestDatabase, seedSubscribers, type TestDatabase } from '../helpers/db';

/**
 * Each setting refuses only its own feature: every setting made invalid in turn, every
 * endpoint called. The endpoints that need the setting answer 500 naming it; every other one
 * answers as it does with a complete configuration. Unsubscribing (GET, the button, RFC 8058
 * one-click) and the health check need only the database and the unsubscribe secret.
 */
const BASE = 'https://mailout.example.com';
const SECRETS = {
  EXECUTOR_SHARED_SECRET: 'refuse-test-executor-secret-0123',
  UNSUBSCRIBE_SECRET: 'refuse-test-unsubscribe-secret-01',
  REPORT_SECRET: 'refuse-test-report-secret-0123456',
  CRON_SECRET: 'refuse-test-cron-secret-012345678',
};
const MAILOUT = '2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d';
let t: TestDatabase;
let subscriberId: string;
let complete: Record<string, string>;
const saved = { ...process.env };

type Endpoint = 'health' | 'unsubscribe GET' | 'unsubscribe button' | 'unsubscribe one-click' | 'view' | 'report' | 'cron' | 'ses-events' | 'send-mailout';

/** One request per endpoint; its links are signed with the complete configuration's secrets. */
function call(endpoint: Endpoint): Promise<Response> {
  const config = loadConfig(complete);
  const token = unsubscribeToken(SECRETS.UNSUBSCRIBE_SECRET, subscriberId);
  const form = (body: string) =>
    new Request(`${BASE}/api/unsubscribe?token=${token}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
  switch (endpoint) {
    case 'health':
      return health.GET(new Request(`${BASE}/api/health`));
    case 'unsubscribe GET':
      return unsubscribe.GET(new Request(`${BASE}/api/unsubscribe?token=${token}`));
    case 'unsubscribe button':
      return unsubscribe.POST(form('action=unsubscribe'));
    case 'unsubscribe one-click':
      return unsubscribe.POST(form('List-Unsubscribe=One-Click'));
    case 'view':
      return view.GET(new Request(viewUrl(config, MAILOUT)));
    case 'report':
      return report.GET(new Request(reportUrl(config, MAILOUT)));
    case 'cron':
      return cron.GET(new Request(`${BASE}/api/cron/resume`, { headers: { authorization: `Bearer ${SECRETS.CRON_SECRET}` } }));
    case 'ses-events':
      // Not an SNS message: a 400 when the feature runs (no certificate is fetched for it).
      return sesEvents.POST(new Request(`${BASE}/api/ses-events`, { method: 'POST', body: 'not json' }));
    case 'send-mailout':
      // Authenticated, without a mailout: a 400 when the feature runs (nothing is read or sent).
      return sendMailout.POST(
        new Request(`${BASE}/api/send-mailout`, { method: 'POST', headers: { authorization: `Bearer ${SECRETS.EXECUTOR_SHARED_SECRET}` }, body: '{}' }),
      );
  }
}

const ENDPOINTS: Endpoint[] = ['health', 'unsubscribe GET', 'unsubscribe button', 'unsubscribe one-click', 'view', 'report', 'cron', 'ses-events', 'send-mailout'];

async function statuses(env: Record<string, string | undefined>): Promise<Record<Endpoint, { status: number; body: string }>> {
  process.env = { ...saved, ...complete, ...env } as NodeJS.ProcessEnv;
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete process.env[k];
  resetConfig();
  const out = {} as Record<Endpoint, { status: number; body: string }>;
  for (const e of ENDPOINTS) {
    const res = await call(e);
    out[e] = { status: res.status, body: await res.text() };
  }
  return out;
}

let baseline: Record<Endpoint, { status: number; body: string }>;

beforeAll(async () => {
  t = await createTestDatabase();
  subscriberId = (await seedSubscribers(t.pool, 1))[0]!;
  complete = {
    ...SECRETS,
    APP_BASE_URL: BASE,
    DATABASE_URL: t.url,
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'AKIDTEST',
    AWS_SECRET_ACCESS_KEY: 'test-secret-key',
    SES_FROM_EMAIL: 'news@example.com',
    SES_CONFIGURATION_SET: 'mailout',
    NOTION_TOKEN: 'secret_refuse_test',
    NOTION_MAILOUTS_DATABASE_ID: '11111111222243338444555555555555',
    SNS_ALLOWED_TOPIC_ARNS: 'arn:aws:sns:eu-west-1:123456789012:ses-feedback',
    FOOTER_ADDRESS: 'Example Publishing, 1 Main St',
    LOG_LEVEL: 'error',
  };
  baseline = await statuses({});
});
afterAll(async () => {
  process.env = saved;
  resetConfig();
  await t.drop();
});

test('with a complete configuration every endpoint answers (the requests above are made to be refused or served, never 500)', () => {
  expect(Object.fromEntries(ENDPOINTS.map((e) => [e, baseline[e].status]))).toEqual({
    health: 200,
    'unsubscribe GET': 200,
    'unsubscribe button': 200,
    'unsubscribe one-click': 200,
    view: 404,
    report: 404,
    cron: 200,
    'ses-events': 400,
    'send-mailout': 400,
  });
});

const SEND: Endpoint[] = ['send-mailout'];
const UNSUBSCRIBE: Endpoint[] = ['unsubscribe GET', 'unsubscribe button', 'unsubscribe one-click'];

const CASES: [string, Record<string, string | undefined>, Endpoint[]][] = [
  ['CRON_SECRET', { CRON_SECRET: 'short' }, ['cron']],
  ['CRON_SECRET', { CRON_SECRET: undefined }, ['cron']],
  ['REPORT_SECRET', { REPORT_SECRET: 'short' }, ['report', ...SEND]],
  ['NOTION_TOKEN', { NOTION_TOKEN: 'short' }, SEND],
  ['NOTION_MAILOUTS_DATABASE_ID', { NOTION_MAILOUTS_DATABASE_ID: 'not-an-id' }, SEND],
  ['NOTION_BASE_URL', { NOTION_BASE_URL: 'nowhere' }, SEND],
  ['AWS_REGION', { AWS_REGION: 'the-moon' }, SEND],
  ['AWS_REGION', { AWS_REGION: undefined }, SEND],
  ['AWS_SECRET_ACCESS_KEY', { AWS_SECRET_ACCESS_KEY: undefined }, SEND],
  ['SES_FROM_EMAIL', { SES_FROM_EMAIL: 'not an address' }, SEND],
  ['SES_ENDPOINT', { SES_ENDPOINT: 'ftp://ses' }, SEND],
  ['RATE_LIMIT_PER_SEC', { RATE_LIMIT_PER_SEC: 'fast' }, SEND],
  ['TEST_EMAILS', { TEST_EMAILS: 'editor@' }, SEND],
  ['SNS_ALLOWED_TOPIC_ARNS', { SNS_ALLOWED_TOPIC_ARNS: 'topic' }, ['ses-events']],
  ['SOFT_BOUNCE_LIMIT', { SOFT_BOUNCE_LIMIT: '0' }, ['ses-events']],
  ['APP_BASE_URL', { APP_BASE_URL: 'mailout' }, ['cron', ...SEND]],
  ['EXECUTOR_SHARED_SECRET', { EXECUTOR_SHARED_SECRET: 'short' }, ['cron', ...SEND]],
  ['REPORT_LINK_DAYS', { REPORT_LINK_DAYS: 'forever' }, ['report', ...SEND]],
  ['UNSUBSCRIBE_SECRET', { UNSUBSCRIBE_SECRET: 'short' }, [...UNSUBSCRIBE, 'view', ...SEND]],
  // Without its own secret, the unsubscribe link's key is derived from the executor secret.
  ['EXECUTOR_SHARED_SECRET', { UNSUBSCRIBE_SECRET: undefined, EXECUTOR_SHARED_SECRET: 'short' }, [...UNSUBSCRIBE, 'view', 'cron', ...SEND]],
  ['LOG_LEVEL', { LOG_LEVEL: 'loud' }, []],
];

test.each(CASES.map(([name, env, refused]) => [name, Object.entries(env).map(([k, v]) => `${k}=${v ?? '(unset)'}`).join(' '), refused, env] as const))(
  'a bad %s (%s) refuses exactly %j', async (name, _shown, refused, env) => {
  const got = await statuses(env);
  for (const e of ENDPOINTS) {
    if (refused.includes(e)) {
      expect({ e, status: got[e].status }).toEqual({ e, status: 500 });
      expect(got[e].body).toContain(name);
    } else {
      // Derived links change with the executor secret; the status is what must not change.
      expect({ e, status: got[e].status }).toEqual({ e, status: baseline[e].status });
    }
  }
  },
);
