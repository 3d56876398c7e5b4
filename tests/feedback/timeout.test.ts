import { withTimeout } from '../../lib/timeout';

/** lib/timeout.ts, the one timeout (SNS certificates and SubscribeURLs go through it). */

afterEach(() => {
  jest.useRealTimers();
});

test('a call that outlives its time rejects with the caller\'s error and its signal is aborted, even if it ignores the signal', async () => {
  jest.useFakeTimers();
  let signal: AbortSignal | undefined;
  const call = withTimeout(100, () => new Error('too slow'), (s) => {
    signal = s;
    return new Promise<never>(() => undefined);
  });
  jest.advanceTimersByTime(99);
  expect(signal!.aborted).toBe(false);
  jest.advanceTimersByTime(1);
  await expect(call).rejects.toThrow('too slow');
  expect(signal!.aborted).toBe(true);
});

test('a call that answers in time keeps its answer and leaves no timer behind', async () => {
  jest.useFakeTimers();
  await expect(withTimeout(100, () => new Error('too slow'), async () => 'answer')).resolves.toBe('answer');
  expect(jest.getTimerCount()).toBe(0);
  await expect(withTimeout(100, () => new Error('too slow'), async () => Promise.reject(new Error('refused')))).rejects.toThrow('refused');
  expect(jest.getTimerCount()).toBe(0);
});
