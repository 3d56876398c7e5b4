/**
 * The failure streak of one send: failures in a row, any recipient, and whether any send has
 * succeeded yet. One breaker per run, owned here: the send loop reads the streak to decide a
 * pause (lib/send/outcome.ts), and the pacer reads it to narrow its places (lib/ses/pacer.ts).
 */
export interface FailureBreaker {
  /** Failures in a row since the last success. */
  readonly streak: number;
  /** Whether any send has succeeded yet. */
  readonly succeeded: boolean;
  /** The most failures in a row a send allows itself (the pacer gives at most this many places before a success). */
  readonly budget: number;
  success(): void;
  failure(): void;
}

export function createBreaker(budget: number): FailureBreaker {
  let streak = 0;
  let succeeded = false;
  return {
    get streak() {
      return streak;
    },
    get succeeded() {
      return succeeded;
    },
    budget: Math.max(1, Math.floor(budget)),
    success() {
      succeeded = true;
      streak = 0;
    },
    failure() {
      streak += 1;
    },
  };
}
