import { renderMailout } from '../../lib/render';
import { MAX_CONSECUTIVE_FAILURES, outcomeOf } from '../../lib/send/outcome';
import { recipientMessage } from '../../lib/send/recipient-message';
import type { SesErrorInfo } from '../../lib/ses';

/** The send's steps on their own: what an SES error means, and the one builder of a recipient's message. */

const ID = '7d1c2b3a-4e5f-4a6b-8c7d-9e8f7a6b5c4d';
const error = (over: Partial<SesErrorInfo>): SesErrorInfo => ({ kind: 'recipient', code: 'MessageRejected', message: 'no', throttled: false, maybeDelivered: false, ...over });

describe('outcomeOf', () => {
  test('a request that may have reached SES is unknown, and neither counts as a failure nor resets the run', () => {
    expect(outcomeOf(ID, error({ kind: 'retry', code: 'TimeoutError', maybeDelivered: true }), 3)).toEqual({
      result: { subscriberId: ID, status: 'unknown', errorCode: 'TimeoutError', errorMessage: 'no' },
      streak: 3,
      failure: false,
    });
  });

  test('an account refusal hands the row back and pauses the mailout', () => {
    expect(outcomeOf(ID, error({ kind: 'account', code: 'AccountSendingPausedException', message: 'paused' }), 0)).toEqual({
      result: { subscriberId: ID, status: 'queued' },
      streak: 0,
      failure: false,
      pause: 'SES refused the account: AccountSendingPausedException: paused',
    });
  });

  test('a recipient refusal fails the recipient; retries that ran out hand the row back; both count', () => {
    expect(outcomeOf(ID, error({}), 0)).toEqual({
      result: { subscriberId: ID, status: 'failed', errorCode: 'MessageRejected', errorMessage: 'no' },
      streak: 1,
      failure: true,
    });
    expect(outcomeOf(ID, error({ kind: 'retry', code: 'Throttling' }), 4)).toEqual({ result: { subscriberId: ID, status: 'queued' }, streak: 5, failure: true });
  });

  test(`the ${MAX_CONSECUTIVE_FAILURES}th failure in a row pauses the mailout, naming the last error`, () => {
    expect(outcomeOf(ID, error({}), MAX_CONSECUTIVE_FAILURES - 2).pause).toBeUndefined();
    expect(outcomeOf(ID, error({}), MAX_CONSECUTIVE_FAILURES - 1).pause).toBe(`${MAX_CONSECUTIVE_FAILURES} failures in a row; the last: MessageRejected: no`);
  });
});

describe('recipientMessage', () => {
  const letter = renderMailout({ subject: 'Новости', markdown: 'Привет, {{name}}!\n\nТекст.' });
  const config = { ses: { fromEmail: 'news@example.com', fromName: 'Новости', replyTo: 'reply@example.com', configurationSet: 'events' } };
  const to = { email: 'anna@example.com', name: 'Анна', unsubscribeUrl: 'https://mail.example.com/api/unsubscribe?token=t' };

  test("a live copy: the recipient's address, name and unsubscribe link, the sender's settings, tagged live", () => {
    const input = recipientMessage(config, letter, ID, to);
    expect(input.Destination).toEqual({ ToAddresses: ['anna@example.com'] });
    expect(input.ReplyToAddresses).toEqual(['reply@example.com']);
    expect(input.ConfigurationSetName).toBe('events');
    expect(input.Content?.Simple?.Subject?.Data).toBe('Новости');
    expect(input.Content?.Simple?.Body?.Text?.Data).toContain('Анна');
    expect(input.Content?.Simple?.Headers).toEqual(expect.arrayContaining([{ Name: 'List-Unsubscribe', Value: `<${to.unsubscribeUrl}>` }]));
    expect(input.EmailTags).toEqual([{ Name: 'mailout_id', Value: ID }, { Name: 'mode', Value: 'live' }]);
  });

  test('a test copy is the same message, marked [TEST] and tagged test', () => {
    const live = recipientMessage(config, letter, ID, to);
    const test = recipientMessage(config, letter, ID, to, { test: true });
    expect(test.Content?.Simple?.Subject?.Data).toBe('[TEST] Новости');
    expect(test.EmailTags).toEqual([{ Name: 'mailout_id', Value: ID }, { Name: 'mode', Value: 'test' }]);
    expect(test.Content?.Simple?.Body).toEqual(live.Content?.Simple?.Body);
  });
});
