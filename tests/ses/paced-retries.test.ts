import { MessageRejected, TooManyRequestsException } from '@aws-sdk/client-sesv2';
import { SesError } from '../../lib/ses/errors';
import { createPacer } from '../../lib/ses/pacer';
import { sendWithRetry } from '../../lib/ses/retry';
import { busiestWindow, FakeClock, seededRandom } from '../../scripts/fakes/fake-clock';

/**
 * The composition the send loop uses (lib/send/loop.ts `sendAndRecord` / `sendOne`): a place
 * from `pacer.place()`, its slot from `start()`, then `sendWithRetry` with every retry on a slot
 * of its own (`again()`) and `slowDown` on throttling; the place is held through the back-offs
 * until the answer, so the places bound what is in flight.
 */
describe('retries through the pacer', () => {
  it('keeps every attempt, retries included, within the rate while throttling slows the pace', async () => {
    const clock = new FakeClock();
    const random = seededRandom(2024);
    const pacer = createPacer({ ratePerSec: 10, maxConcurrency: 4, failureBudget: 10, now: clock.now, sleep: clock.sleep });
    const attempts: number[] = [];
    const rates: number[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const outcomes: Array<'sent' | 'failed'> = [];

    const sendOne = async (i: number) => {
      const place = await pacer.place();
      try {
        await place.start();
        let attempt = 0;
        await sendWithRetry(
          async () => {
            if (attempt++ > 0) await place.again();
            attempts.push(clock.now());
            inFlight += 1;
            maxInFlight = Math.max(maxInFlight, inFlight);
            await clock.sleep(20 + random() * 130);
            inFlight -= 1;
            if (i % 50 === 7) throw new MessageRejected({ message: 'Illegal address', $metadata: { httpStatusCode: 400 } });
            if (random() < 0.15) {
              throw new TooManyRequestsException({ message: 'Maximum sending rate exceeded.', $metadata: { httpStatusCode: 429 } });
            }
            return 'ok';
          },
          {
            maxAttempts: 10,
            sleep: clock.sleep,
            random,
            onRetry: ({ error }) => {
              if (error.throttled) rates.push(pacer.slowDown());
            },
          },
        );
        pacer.recordSuccess();
        outcomes[i] = 'sent';
      } catch (err) {
        expect(err).toBeInstanceOf(SesError);
        expect((err as SesError).kind).toBe('recipient');
        pacer.recordFailure();
        outcomes[i] = 'failed';
      } finally {
        place.release();
      }
    };

    let next = 0;
    const worker = async () => {
      while (next < 300) await sendOne(next++);
    };
    await clock.runUntil(Promise.all(Array.from({ length: 6 }, worker)));

    expect(outcomes.filter((o) => o === 'sent')).toHaveLength(294);
    expect(outcomes.filter((o) => o === 'failed')).toHaveLength(6);
    expect(attempts.length).toBeGreaterThan(300); // retries happened ...
    expect(busiestWindow(attempts)).toBeLessThanOrEqual(10); // ... and were paced like first attempts
    expect(maxInFlight).toBeLessThanOrEqual(4);
    expect(Math.min(...rates)).toBeLessThan(10); // throttling slowed the pace
  });
});
