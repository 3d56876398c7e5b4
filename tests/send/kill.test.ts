import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { startMailout, type LoopSummary } from '../../lib/send';
import { notionCountsRefresher } from '../../lib/app';
import { resumeExpiredMailouts } from '../../lib/send/resume';
import { startFakeSes, type FakeSes } from '../../scripts/fakes/ses';
import { createTestDatabase, seedSubscribers, type TestDatabase } from '../helpers/db';
import { sendDeps, testConfig, testEnv } from './helpers';

/**
 * The worst crash: the sending process is SIGKILLed while SES is answering it. A resume must
 * send nobody twice, and only the messages SES had not answered at the kill may end `unknown`.
 */

const RECIPIENTS = 200;
const CONCURRENCY = 3;
const FREEZE_AT = 30;

let t: TestDatabase;
let ses: FakeSes;
let child: ChildProcess | undefined;

beforeAll(async () => {
  t = await createTestDatabase();
  ses = await startFakeSes({ account: { SendQuota: { Max24HourSend: -1, MaxSendRate: 5000 } } });
});
afterAll(async () => {
  child?.kill('SIGKILL');
  await ses.close();
  await t.drop();
});

test('a sender killed mid-send and then resumed sends nobody twice, and only the messages in flight at the kill end unknown', async () => {
  await seedSubscribers(t.pool, RECIPIENTS);

  // SES answers the first FREEZE_AT - 1 messages after 150 ms, then stops answering:
  // whatever is unanswered when the process dies was in flight.
  let frozen!: () => void;
  const freeze = new Promise<void>((resolve) => (frozen = resolve));
  ses.setLatency((call) => {
    if (call && call.n >= FREEZE_AT) {
      frozen();
      return 0;
    }
    return 150;
  });
  ses.setFailure({ when: (call) => call.n >= FREEZE_AT, error: 'hang' });

  child = fork(path.join(__dirname, 'child-send.ts'), [], {
    execArgv: ['--import', 'tsx', '--no-warnings'],
    env: {
      PATH: process.env.PATH,
      LOG_LEVEL: 'warn',
      MAILOUT_ID: 'c0655471-c298-862f-9b44-b9c7fde532e1',
      ...testEnv(t, ses.url, { SEND_CONCURRENCY: String(CONCURRENCY) }),
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child!.on('exit', (code, signal) => resolve(signal ?? code)));
  await Promise.race([freeze, exited.then((how) => Promise.reject(new Error(`the sender exited early: ${String(how)}`)))]);
  // Wait until the answers SES already sent are in the ledger and the last permits went to
  // hanging calls (a broken recorder never gets there: after a bound far above the few
  // milliseconds this takes, even on a busy machine, the assertions below fail).
  const until = Date.now() + 30_000;
  for (;;) {
    const { rows } = await t.pool.query(`select count(*)::int n from deliveries where mailout_id = 'c0655471-c298-862f-9b44-b9c7fde532e1' and status = 'sent'`);
    const hanging = ses.calls.filter((c) => c.outcome.status === 'hang').length;
    if ((rows[0].n === ses.sent.length && hanging === CONCURRENCY) || Date.now() > until) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  child.kill('SIGKILL');
  expect(await exited).toBe('SIGKILL');

  const inFlight = ses.calls.filter((c) => c.outcome.status === 'hang' || c.outcome.status === 'pending').map((c) => c.to[0]!);
  const answered = ses.sent.map((c) => c.to[0]!);
  expect(inFlight.length).toBeGreaterThan(0);
  expect(inFlight.length).toBeLessThanOrEqual(CONCURRENCY);
  expect(answered.length).toBeGreaterThanOrEqual(FREEZE_AT - 1);

  // What the ledger says right after the crash: every accepted message is already `sent`.
  const { rows: afterKill } = await t.pool.query<{ email: string; status: string }>(
    `select s.email, d.status from deliveries d join subscribers s on s.id = d.subscriber_id where d.mailout_id = 'c0655471-c298-862f-9b44-b9c7fde532e1'`,
  );
  const sentAtKill = afterKill.filter((r) => r.status === 'sent').map((r) => r.email);
  expect(sentAtKill.sort()).toEqual([...answered].sort());

  // The lease runs out; the cron hands the mailout to a fresh invocation.
  ses.clearFailures();
  ses.setLatency(0);
  await t.pool.query(`update mailouts set lease_until = now() - interval '1 second' where id = 'c0655471-c298-862f-9b44-b9c7fde532e1'`);
  const config = testConfig(t, ses.url, { SEND_CONCURRENCY: String(CONCURRENCY) });
  const deps = sendDeps(config, t);
  const summaries: LoopSummary[] = [];
  const resumed = await resumeExpiredMailouts({
    db: t.db,
    ledger: t.ledger,
    continueMailout: async (mailoutId) => {
      const res = await startMailout(deps, { mailoutId, fromNotion: false, dryRun: false, continuation: true });
      expect(res.status).toBe(202);
      summaries.push(await res.run!());
    },
    countsRefresher: () => notionCountsRefresher(config, t.db),
  });
  expect(resumed).toEqual(['c0655471-c298-862f-9b44-b9c7fde532e1']);
  expect(summaries[0]).toMatchObject({ outcome: 'complete' });

  // Every subscriber reached SES exactly once, across both processes.
  const perAddress = new Map<string, number>();
  for (const c of ses.calls) perAddress.set(c.to[0]!, (perAddress.get(c.to[0]!) ?? 0) + 1);
  expect(perAddress.size).toBe(RECIPIENTS);
  expect([...perAddress.values()].every((n) => n === 1)).toBe(true);

  const { rows } = await t.pool.query<{ email: string; status: string }>(
    `select s.email, d.status from deliveries d join subscribers s on s.id = d.subscriber_id where d.mailout_id = 'c0655471-c298-862f-9b44-b9c7fde532e1'`,
  );
  const unknown = rows.filter((r) => r.status === 'unknown').map((r) => r.email);
  expect(unknown.sort()).toEqual([...inFlight].sort());
  expect(rows.filter((r) => r.status === 'sent')).toHaveLength(RECIPIENTS - inFlight.length);
  const { rows: m } = await t.pool.query(`select status, sent, unknown from mailouts where id = 'c0655471-c298-862f-9b44-b9c7fde532e1'`);
  expect(m[0]).toMatchObject({ status: 'sent', sent: RECIPIENTS - inFlight.length, unknown: inFlight.length });
}, 60_000);
