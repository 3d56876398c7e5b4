/**
 * The one timeout: `fn` gets an AbortSignal that fires after `ms`, and the call rejects with
 * `onTimeout()` at that moment even if `fn` ignores the signal (a fetcher that never settles
 * must not hold a request open).
 */
export async function withTimeout<T>(ms: number, onTimeout: () => Error, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(onTimeout());
    }, ms);
  });
  try {
    return await Promise.race([fn(controller.signal), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
