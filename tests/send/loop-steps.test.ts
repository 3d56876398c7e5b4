import type { BatchRecipient } from '../../lib/db/ledger';
import { silentReporter } from '../../lib/mailout-reporter';
import { renderMailout } from '../../lib/render';
import { leaseGuardMarginMs, runSendLoop, type LoopDeps, type LoopSettings } from '../../lib/send/loop';
import { recipientMessage } from '../../lib/send/recipient-message';
import { pacedRecipientSender } from '../../lib/send/recipient-sender';
import { createSesClient } from '../../lib/ses';
import { createSendEmail } from '../../lib/ses/send-email';
import { startFakeSes, type FakeSes } from '../../scripts/fakes/ses';
import { memoryLoopStore, type MemoryLoopStore } from '../../scripts/fakes/memory-loop-store';

/**
 * The send loop on its own: its ledger is a `LoopStore` kept in memory (no Postgres), SES is
 * the fake over HTTP reached through the run's real paced RecipientSender, and the run's
 * clock is real time plus a skew the test moves (a mark answered late, a deadline).
 */
let ses: FakeSes;
beforeAll(async () => {
  ses = await startFakeSes({ account: { SendQuota: { Max24HourSend: -1, MaxSendRate: 5000 } } });
});
afterAll(async () => {
  await ses.close();
});
beforeEach(() => {
  ses.reset();
});

const MAILOUT = '24242424-1111-4222-8333-444444444444';
const LEASE_SECONDS = 120;
const letter = renderMailout({ subject: 'Новости', markdown: 'Привет, {{name|друг}}!' });

function recipients(n: number): BatchRecipient[] {
  return Array.from({ length: n }, (_, i) => ({ subscriberId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, email: `reader${i}@example.com`, name: i % 2 ? 'Анна' : null }));
}

/** A run of the loop over `store`, at `rate`, by the clock `now`. */
function loopDeps(store: MemoryLoopStore, now: () => number, settings: Partial<LoopSettings> & { rate?: number } = {}): LoopDeps {
  const { rate = 1000, ...rest } = settings;
  const client = createSesClient({ aws: { region: 'eu-west-1', endpoint: ses.url, credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret-key' } } });
  const config = { ses: { fromEmail: 'news@example.com' } };
  const maxConcurrency = rest.maxConcurrency ?? 8;
  return {
    store,
    sender: pacedRecipientSender({
      sendEmail: createSendEmail(client),
      rate,
      maxConcurrency,
      message: (r) => recipientMessage(config, letter, MAILOUT, { email: r.email, name: r.name, unsubscribeUrl: `https://mail.example.com/api/unsubscribe?token=${r.subscriberId}`, subscriberId: r.subscriberId }),
      classify: { fromEmail: config.ses.fromEmail },
      sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 5))),
    }),
    settings: { mailoutId: MAILOUT, batchSize: 50, maxConcurrency, leaseSeconds: LEASE_SECONDS, deadline: now() + 3_600_000, safetyMarginMs: 0, ...rest },
    reporter: silentReporter,
    clock: { now },
  };
}

const sentTo = () => ses.sent.map((c) => c.to[0]!);

test('every recipient is sent once, and the run ends complete in the ledger', async () => {
  const all = recipients(120);
  const store = memoryLoopStore(all, { now: Date.now });
  const summary = await runSendLoop(loopDeps(store, Date.now));
  expect(summary).toMatchObject({ outcome: 'complete', sent: 120, failed: 0, unknown: 0, batches: 3 });
  expect(store.statuses()).toEqual({ sent: 120 });
  expect(store.finished).toEqual([{ outcome: 'complete', reason: null }]);
  expect(sentTo().sort()).toEqual(all.map((r) => r.email).sort());
  expect(summary.final).toMatchObject({ status: 'sent', sent: 120 });
});

test('a throttle is retried in a slot of its own and the send recovers: everyone once, nobody failed', async () => {
  const all = recipients(30);
  ses.setFailure({ next: 3, error: 'TooManyRequestsException' });
  const store = memoryLoopStore(all, { now: Date.now });
  const deps = loopDeps(store, Date.now, { rate: 200 });
  const summary = await runSendLoop(deps);
  expect(summary).toMatchObject({ outcome: 'complete', sent: 30, failed: 0 });
  expect(ses.callCount).toBe(33);
  expect(new Set(sentTo()).size).toBe(30);
  expect(sentTo()).toHaveLength(30);
  expect(deps.sender.breaker.streak).toBe(0);
});

test('a lost lease stops the run: nothing is sent on a mark made after it, nothing more is claimed, nothing finished', async () => {
  const all = recipients(200);
  let callsAtLoss = -1;
  const store: MemoryLoopStore = memoryLoopStore(all, {
    now: Date.now,
    onBegin: (_id, n) => {
      if (n === 10) {
        callsAtLoss = ses.callCount;
        store.loseLease();
      }
    },
  });
  const summary = await runSendLoop(loopDeps(store, Date.now, { maxConcurrency: 4 }));
  expect(summary.outcome).toBe('lease_lost');
  const marked = new Set(store.marks.filter((m) => m.decision === 'send').map((m) => store.rows.get(m.subscriberId)!.email));
  expect(marked.size).toBeLessThan(10);
  // Only marks answered `send` before the loss were sent, at most the places in flight after it.
  expect(sentTo().every((to) => marked.has(to))).toBe(true);
  expect(ses.callCount - callsAtLoss).toBeLessThanOrEqual(4);
  // The batches claimed before the loss (claimed ahead of the places); no claim after it.
  expect(store.statuses().queued! % 50).toBe(0);
  expect(store.statuses().queued).toBeGreaterThanOrEqual(100);
  expect(store.finished).toEqual([]);
});

test('a row whose answer is lost (the connection drops after the request) is unknown, never retried; the others are sent', async () => {
  const all = recipients(20);
  ses.setFailure({ to: all[5]!.email, error: 'reset' });
  const store = memoryLoopStore(all, { now: Date.now });
  const summary = await runSendLoop(loopDeps(store, Date.now));
  expect(summary).toMatchObject({ outcome: 'complete', sent: 19, unknown: 1 });
  expect(store.rows.get(all[5]!.subscriberId)!.status).toBe('unknown');
  expect(ses.calls.filter((c) => c.to[0] === all[5]!.email)).toHaveLength(1);
  expect(store.statuses()).toEqual({ sent: 19, unknown: 1 });
});

test('a mark answered after its lease may have passed (by the run’s own clock) is handed back unsent, then sent once from a fresh mark', async () => {
  const all = recipients(20);
  let skew = 0;
  const now = () => Date.now() + skew;
  const late = all[7]!;
  const store = memoryLoopStore(all, {
    now,
    onBegin: (id) => {
      // The answer to this mark arrives after the lease less the guard's margin.
      if (id === late.subscriberId && skew === 0) skew += LEASE_SECONDS * 1000 - leaseGuardMarginMs(LEASE_SECONDS);
    },
  });
  const summary = await runSendLoop(loopDeps(store, now));
  expect(summary).toMatchObject({ outcome: 'complete', sent: 20 });
  expect(store.marks.filter((m) => m.subscriberId === late.subscriberId).map((m) => m.decision)).toEqual(['send', 'send']);
  expect(ses.calls.filter((c) => c.to[0] === late.email)).toHaveLength(1);
  expect(new Set(sentTo()).size).toBe(20);
});

test('near the deadline the run releases the lease after the batches going out: the rest stays queued for a fresh invocation', async () => {
  const all = recipients(100);
  const now = Date.now;
  const store = memoryLoopStore(all, { now });
  // The first batch always goes; the second (10 more at 10/s after the 10 still going out) would not fit.
  const summary = await runSendLoop(loopDeps(store, now, { rate: 10, batchSize: 10, deadline: now() + 1500 }));
  expect(summary).toMatchObject({ outcome: 'released', reason: 'time budget reached', sent: 10, batches: 1 });
  expect(store.finished).toEqual([{ outcome: 'released', reason: null }]);
  expect(store.statuses()).toEqual({ sent: 10, queued: 90 });
  expect(ses.callCount).toBe(10);
});
