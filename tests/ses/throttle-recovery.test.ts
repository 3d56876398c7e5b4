import { busiestWindow } from '../../scripts/fakes/fake-clock';
import { callsPerSecond, everyNthOfFirst, rateAt, runThrottleScenario, spikeUntil } from '../../scripts/fakes/throttle-scenario';

/**
 * Issue 17: at 40/s, an SESv2 fake throttles every 7th of its first 120 calls and then never
 * again. The old pacer halved to the 1/s floor and climbed back ×1.25 per 20 successes in a
 * row: 240 recipients took 2.5 minutes instead of ~6 s. In virtual time (no wall clock).
 */
describe('the pace comes back after throttling ends', () => {
  const scenario = { rate: 40, recipients: 240, throttled: everyNthOfFirst(7, 120) };

  it('is back at the configured rate within 10 s of the last throttle, and 240 recipients take seconds, not minutes', async () => {
    const run = await runThrottleScenario(scenario);
    expect(run.sent).toBe(240);
    expect(run.duplicates).toBe(0);
    expect(run.throttles).toHaveLength(Math.floor(120 / 7));
    const last = run.throttles[run.throttles.length - 1]!;
    // The rate the pacer holds 10 s after the last throttle (it is reached well before).
    const backAt = run.rates.find(([t, r]) => t >= last && r >= 40)?.[0];
    expect(backAt).toBeDefined();
    expect(backAt! - last).toBeLessThanOrEqual(10_000);
    expect(rateAt(run, last + 10_000)).toBe(40);
    // 240 at 40/s is 6 s; with 17 throttles (each a halving) it stays within a few seconds more.
    expect(run.durationMs).toBeLessThan(20_000);
    // Never above the rate, retries included.
    expect(busiestWindow(run.calls)).toBeLessThanOrEqual(40);
  });

  it('follows a transactional spike down (10/s allowed for 8 s) and is back at 40/s within 10 s after it', async () => {
    const run = await runThrottleScenario({ rate: 40, recipients: 600, throttled: spikeUntil(10, 8000) });
    expect(run.sent).toBe(600);
    expect(run.duplicates).toBe(0);
    expect(run.throttles.length).toBeGreaterThan(0);
    const last = run.throttles[run.throttles.length - 1]!;
    expect(Math.min(...run.rates.map(([, r]) => r))).toBeLessThanOrEqual(10); // it followed the spike down
    expect(rateAt(run, last + 10_000)).toBe(40);
    // Every whole second from 10 s after the last throttle to the end runs at the rate.
    const curve = callsPerSecond(run);
    const after = curve.slice(Math.ceil((last + 10_000) / 1000), curve.length - 1);
    expect(after.length).toBeGreaterThan(0);
    for (const n of after) expect(n).toBeGreaterThanOrEqual(39);
    expect(busiestWindow(run.calls)).toBeLessThanOrEqual(40);
  });
});
