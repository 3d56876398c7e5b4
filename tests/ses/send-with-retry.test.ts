import {
  AccountSuspendedException,
  InternalServiceErrorException,
  MessageRejected,
  TooManyRequestsException,
} from '@aws-sdk/client-sesv2';
import { SesError } from '../../lib/ses/errors';
import { backoffDelay, sendWithRetry } from '../../lib/ses/retry';

const meta = (httpStatusCode: number) => ({ $metadata: { httpStatusCode } });
const throttled = () => new TooManyRequestsException({ message: 'Maximum sending rate exceeded.', ...meta(429) });
const serverFault = () => new InternalServiceErrorException({ message: 'Internal failure', ...meta(500) });
const rejected = () => new MessageRejected({ message: 'Email address is not verified. ...: x@example.com', ...meta(400) });
const suspended = () => new AccountSuspendedException({ message: 'suspended', ...meta(400) });

/** A send that fails with the given errors in turn, then succeeds. */
function failing(errors: Array<() => unknown>) {
  let calls = 0;
  const send = async () => {
    calls += 1;
    const next = errors[calls - 1];
    if (next) throw next();
    return `message-${calls}`;
  };
  return { send, calls: () => calls };
}

function recorder() {
  const sleeps: number[] = [];
  return { sleeps, sleep: async (ms: number) => void sleeps.push(ms) };
}

describe('sendWithRetry', () => {
  it('returns the result at once when the first attempt succeeds', async () => {
    const { sleeps, sleep } = recorder();
    const f = failing([]);
    await expect(sendWithRetry(f.send, { sleep })).resolves.toBe('message-1');
    expect(f.calls()).toBe(1);
    expect(sleeps).toEqual([]);
  });

  it('retries throttling and server faults, then returns the result', async () => {
    const { sleeps, sleep } = recorder();
    const f = failing([throttled, serverFault, throttled]);
    const retries: Array<{ attempt: number; code: string; throttled: boolean }> = [];
    const result = await sendWithRetry(f.send, {
      sleep,
      random: () => 0.5,
      onRetry: ({ attempt, error }) => retries.push({ attempt, code: error.code, throttled: error.throttled }),
    });
    expect(result).toBe('message-4');
    expect(f.calls()).toBe(4);
    expect(retries).toEqual([
      { attempt: 1, code: 'TooManyRequestsException', throttled: true },
      { attempt: 2, code: 'InternalServiceErrorException', throttled: false },
      { attempt: 3, code: 'TooManyRequestsException', throttled: true },
    ]);
    expect(sleeps).toEqual([100, 200, 400]); // 0.5 × 200, 400, 800
  });

  it('does not retry a recipient rejection or an account error, and says which it was', async () => {
    for (const [make, kind, code] of [
      [rejected, 'recipient', 'MessageRejected'],
      [suspended, 'account', 'AccountSuspendedException'],
    ] as const) {
      const { sleeps, sleep } = recorder();
      const f = failing([make]);
      const err = await sendWithRetry(f.send, { sleep }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SesError);
      expect(err).toMatchObject({ kind, code, attempts: 1 });
      expect((err as SesError).cause).toBeInstanceOf(Error);
      expect(f.calls()).toBe(1);
      expect(sleeps).toEqual([]);
    }
  });

  it('gives up after maxAttempts with the last classified error', async () => {
    const { sleeps, sleep } = recorder();
    const f = failing([throttled, throttled, serverFault, serverFault, serverFault, throttled]);
    const err = await sendWithRetry(f.send, { sleep, maxAttempts: 5, random: () => 0 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'retry', code: 'InternalServiceErrorException', attempts: 5 });
    expect(f.calls()).toBe(5);
    expect(sleeps).toHaveLength(4);
  });

  it('backs off exponentially with full jitter, capped at maxDelayMs', async () => {
    const { sleeps, sleep } = recorder();
    const f = failing(Array.from({ length: 9 }, () => throttled));
    await sendWithRetry(f.send, { sleep, maxAttempts: 10, baseDelayMs: 200, maxDelayMs: 10_000, random: () => 0.999999 });
    expect(sleeps).toEqual([199, 399, 799, 1599, 3199, 6399, 9999, 9999, 9999]);
    // Full jitter: anywhere from 0 up to the cap.
    expect(backoffDelay(3, 200, 10_000, () => 0)).toBe(0);
    expect(backoffDelay(3, 200, 10_000, () => 0.25)).toBe(200);
  });

  it('waits at least the Retry-After SES sends', async () => {
    const { sleeps, sleep } = recorder();
    const withRetryAfter = () =>
      Object.assign(throttled(), { $response: { statusCode: 429, headers: { 'retry-after': '3' }, body: undefined } });
    const f = failing([withRetryAfter]);
    await sendWithRetry(f.send, { sleep, random: () => 0 });
    expect(sleeps).toEqual([3000]);
  });

  it('by default (at most once), does not retry a failure that may have reached SES; one that never left is retried', async () => {
    const { sleep } = recorder();
    const reset = () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });

    const strict = failing([reset]);
    const err = await sendWithRetry(strict.send, { sleep }).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'retry', code: 'ECONNRESET', maybeDelivered: true, attempts: 1 });
    expect(strict.calls()).toBe(1);

    const neverSent = failing([refused]);
    await expect(sendWithRetry(neverSent.send, { sleep })).resolves.toBe('message-2');

    // A read that is safe to repeat (the pre-flight's GetAccount) asks for the retry.
    const read = failing([reset]);
    await expect(sendWithRetry(read.send, { sleep, retryMaybeDelivered: true })).resolves.toBe('message-2');
  });
});
