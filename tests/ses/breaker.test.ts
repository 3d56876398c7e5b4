import { createBreaker } from '../../lib/ses/breaker';
import { createPacer } from '../../lib/ses/pacer';
import { FakeClock } from '../../scripts/fakes/fake-clock';

/** One failure streak per run: the pacer's places and the loop's pause read the same breaker. */
describe('the failure breaker a pacer shares', () => {
  test('the pacer narrows its places by the streak its caller counts, and widens them on a success', () => {
    const clock = new FakeClock();
    const breaker = createBreaker(10);
    const pacer = createPacer({ ratePerSec: 1000, maxConcurrency: 1000, breaker, now: clock.now, sleep: clock.sleep });
    expect(pacer.limit).toBe(10); // before any success: the budget
    pacer.recordSuccess();
    expect(breaker.succeeded).toBe(true);
    expect(pacer.limit).toBeGreaterThan(10);
    for (let i = 0; i < 4; i++) breaker.failure();
    expect(pacer.limit).toBe(6);
    pacer.recordFailure(); // the pacer's own call counts on the same streak
    expect(breaker.streak).toBe(5);
    expect(pacer.limit).toBe(5);
    pacer.recordSuccess();
    expect(breaker.streak).toBe(0);
    expect(pacer.limit).toBeGreaterThan(10);
  });
});
