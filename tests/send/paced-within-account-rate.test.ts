import { startMailout } from '../../lib/send';
import { startFakeSes, type AccountOverrides } from '../../scripts/fakes/ses';
import { createTestDatabase, seedSubscribers, type TestDatabase } from '../helpers/db';
import { sendDeps, testConfig } from './helpers';

/**
 * The product never sends faster than the account allows: pre-flight reads MaxSendRate through
 * GetAccount and caps RATE_LIMIT_PER_SEC (1,000 here) at it, and the pacer keeps every rolling
 * second at or under it. Against the SES fake, which enforces the rate it advertises
 * (tests/fakes/ses-limits.test.ts), a whole send then gets not one throttled answer. Counted, not
 * timed: the number of 429s must be 0, however busy the machine.
 */
let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t.drop();
});

test.each<[string, AccountOverrides | undefined, number]>([
  ["the fake's default account, 14/s", undefined, 42],
  ['an advertised 50/s', { SendQuota: { MaxSendRate: 50, Max24HourSend: -1 } }, 150],
])('a send paced at %s gets no throttled answer from an SES that enforces it', async (_name, account, recipients) => {
  const ses = await startFakeSes(account ? { account } : {});
  try {
    await t.pool.query('truncate subscribers, mailouts, deliveries, test_sends, ses_events cascade');
    await seedSubscribers(t.pool, recipients);
    const config = testConfig(t, ses.url);
    const res = await startMailout(sendDeps(config, t), {
      mailoutId: '51515151-2222-4333-8444-555555555555',
      fromNotion: false,
      dryRun: false,
      continuation: false,
    });
    const summary = await res.run!();
    expect(summary).toMatchObject({ outcome: 'complete', sent: recipients, failed: 0, unknown: 0 });
    expect(ses.calls.filter((c) => c.outcome.status === 429)).toHaveLength(0);
    expect(ses.callCount).toBe(recipients);
  } finally {
    await ses.close();
  }
});
