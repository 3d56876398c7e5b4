import { startMailout } from '../../lib/send';
import { seedSubscribers } from '../helpers/db';
import { letter, sendDeps, testConfig, useSendTestBed } from './helpers';

/**
 * Issue 24, item 2: a test send goes to SES the bulk send's way (lib/send/recipient-sender.ts),
 * not through the SDK's SendEmailCommand: the same request, the same classified retries.
 */
const bed = useSendTestBed();

const headerNames = (call: { requestHeaders: Record<string, unknown> }) => Object.keys(call.requestHeaders).sort();

/** A test send of mailout `id` to TEST_EMAILS=editor@example.com. */
function sendTestOf(id: string) {
  const { t, ses } = bed;
  const config = testConfig(t, ses.url, { TEST_EMAILS: 'editor@example.com' });
  return startMailout(sendDeps(config, t, { loadLetter: async () => ({ ...letter(), test: true }) }), { mailoutId: id, fromNotion: false, dryRun: false, continuation: false });
}

test('a test send makes the same SendEmail request as a live send: the same headers, the same body fields', async () => {
  const { t, ses } = bed;
  await seedSubscribers(t.pool, 1);
  const test = await sendTestOf('24242424-2222-4333-8444-555555555555');
  expect(test.body).toMatchObject({ outcome: 'test_sent', sent: 1 });
  const live = await startMailout(sendDeps(testConfig(t, ses.url), t), { mailoutId: '24242424-3333-4333-8444-555555555555', fromNotion: false, dryRun: false, continuation: false });
  expect((await live.run!()).sent).toBe(1);

  const [testCall, liveCall] = ses.calls;
  expect(testCall!.to).toEqual(['editor@example.com']);
  expect(headerNames(testCall!)).toEqual(headerNames(liveCall!));
  expect(testCall!.requestHeaders['user-agent']).toBe(liveCall!.requestHeaders['user-agent']);
  expect(Object.keys(testCall!.body).sort()).toEqual(Object.keys(liveCall!.body).sort());
});

test('a throttled test send is retried with the bulk send’s classification and reaches the address once', async () => {
  const { ses } = bed;
  ses.setFailure({ next: 2, error: 'TooManyRequestsException' });
  const res = await sendTestOf('24242424-4444-4333-8444-555555555555');
  expect(res.body).toMatchObject({ outcome: 'test_sent', sent: 1 });
  expect(ses.callCount).toBe(3);
  expect(ses.sent.map((c) => c.to[0])).toEqual(['editor@example.com']);
});
