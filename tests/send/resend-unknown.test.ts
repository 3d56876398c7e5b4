import { applySesEvent } from '../../lib/feedback/store';
import { parseSesMessage } from '../../lib/feedback/ses';
import { mailoutIdFromName } from '../../lib/mailout-id';
import { startMailout } from '../../lib/send';
import { planResend, resendUnknown } from '../../lib/send/resend-unknown';
import type { FakeSes } from '../../scripts/fakes/ses';
import { seedSubscribers, type TestDatabase, leaseOf } from '../helpers/db';
import path from 'node:path';
import { cleanCliEnv, runCommand } from '../helpers/run';
import { letter, sendDeps, sendTestBed, testConfig, testEnv } from './helpers';

/**
 * resend-unknown (issue 26, item 4): rows SES reported are never resent, rows it never
 * reported are resent once after the quiet window, a second run resends nothing, and a plan
 * sends nothing. Real Postgres, the real send loop, the fake SES over HTTP.
 */
const bed = sendTestBed();
let t: TestDatabase;
let ses: FakeSes;
beforeEach(async () => {
  ({ t, ses } = bed);
  ses.reset();
  await t.pool.query('truncate subscribers, mailouts, deliveries, ses_events cascade');
});

const QUIET = 60;
const deps = () => sendDeps(testConfig(t, ses.url), t);
const callsTo = (email: string) => ses.calls.filter((c) => c.to[0] === email).length;

/** A sent mailout whose first three marked rows were left unknown by a dead run. */
async function finishedWithUnknown(name: string) {
  const id = mailoutIdFromName(name);
  const c = await t.ledger.claim(id, { leaseSeconds: 60, content: { ...letter().letter, origin: 'file' } });
  const marked = (await t.ledger.run(leaseOf(c)).claimBatch({ limit: 3 })).map((b) => ({ id: b.subscriberId, email: b.email }));
  await t.ledger.run(leaseOf(c)).begin(marked.map((m) => m.id));
  await t.pool.query(`update mailouts set lease_until = now() - interval '1 second' where id = $1`, [id]);
  const resumed = await (await startMailout(deps(), { mailoutId: id, fromNotion: false, dryRun: false, continuation: true })).run!();
  expect(resumed.final).toMatchObject({ status: 'sent', unknown: 3 });
  return { id, marked };
}

let sns = 0;
async function sesReports(type: 'Send' | 'Reject', id: string, row: { id: string; email: string }) {
  const body = { eventType: type, mail: { messageId: `0100018c-resend-${++sns}`, destination: [row.email], tags: { mailout_id: [id], subscriber_id: [row.id] } } };
  await applySesEvent(t.db, { snsMessageId: `sns-resend-${sns}`, event: parseSesMessage(JSON.stringify(body)), softBounceLimit: 3 });
}
const quietFor = (id: string, minutes: number) =>
  Promise.all([
    t.pool.query(`update mailouts set sent_at = sent_at - make_interval(mins => $2), updated_at = updated_at - make_interval(mins => $2) where id = $1`, [id, minutes]),
    t.pool.query(`update ses_events set received_at = received_at - make_interval(mins => $2) where mailout_id = $1`, [id, minutes]),
  ]);

test('only the rows SES never reported are resent, each once; a second run and a plan send nothing', async () => {
  await seedSubscribers(t.pool, 20);
  const { id, marked } = await finishedWithUnknown('resend-once');
  const [delivered, rejected, silent] = marked as [(typeof marked)[0], (typeof marked)[0], (typeof marked)[0]];
  await sesReports('Send', id, delivered); // SES accepted it: settled as sent
  await sesReports('Reject', id, rejected); // SES reported it (and refused it): not ours to resend
  await quietFor(id, QUIET + 1);

  const before = ses.calls.length;
  const plan = await planResend(t.ledger, id, QUIET);
  expect(plan.window).toMatchObject({ found: true, status: 'sent', ready: true, neverReported: 1 });
  expect(plan.rows.map((r) => r.email)).toEqual([silent.email]);
  expect(ses.calls.length).toBe(before); // a plan sends nothing

  const result = await resendUnknown(deps(), id, QUIET);
  expect(result).toMatchObject({ outcome: 'requeued', requeued: 1 });
  expect(result.summary).toMatchObject({ outcome: 'complete', sent: 1 });
  expect(ses.calls.length).toBe(before + 1);
  expect(callsTo(silent.email)).toBe(1);
  expect(callsTo(delivered.email)).toBe(0);
  expect(callsTo(rejected.email)).toBe(0);
  const { rows } = await t.pool.query(`select subscriber_id, status, resent_at is not null resent from deliveries where mailout_id = $1 and subscriber_id = any($2)`, [
    id,
    marked.map((m) => m.id),
  ]);
  expect(Object.fromEntries(rows.map((r) => [r.subscriber_id, [r.status, r.resent]]))).toEqual({
    [delivered.id]: ['sent', false],
    [rejected.id]: ['unknown', false],
    [silent.id]: ['sent', true],
  });
  const m = (await t.pool.query(`select status, sent, unknown from mailouts where id = $1`, [id])).rows[0];
  expect(m).toEqual({ status: 'sent', sent: 19, unknown: 1 });

  await quietFor(id, QUIET + 1);
  expect(await resendUnknown(deps(), id, QUIET)).toEqual({ outcome: 'nothing', requeued: 0, summary: null });
  expect(ses.calls.length).toBe(before + 1);
});

test('a row resent once and lost again is never resent a second time', async () => {
  await seedSubscribers(t.pool, 5);
  const { id, marked } = await finishedWithUnknown('resend-never-twice');
  await quietFor(id, QUIET + 1);
  // The resend's answer for one of them is lost too.
  ses.setFailure({ to: marked[0]!.email, error: 'reset' });
  const first = await resendUnknown(deps(), id, QUIET);
  expect(first).toMatchObject({ outcome: 'requeued', requeued: 3 });
  const { rows } = await t.pool.query(`select status from deliveries where mailout_id = $1 and subscriber_id = $2`, [id, marked[0]!.id]);
  expect(rows[0].status).toBe('unknown');
  await quietFor(id, QUIET + 1);
  expect((await planResend(t.ledger, id, QUIET)).rows).toEqual([]);
  expect(await resendUnknown(deps(), id, QUIET)).toMatchObject({ outcome: 'nothing', requeued: 0 });
  expect(callsTo(marked[0]!.email)).toBe(1);
});

test('inside the quiet window, or before the mailout is finished, nothing is queued or sent', async () => {
  await seedSubscribers(t.pool, 5);
  const { id } = await finishedWithUnknown('resend-too-soon');
  const before = ses.calls.length;
  expect((await planResend(t.ledger, id, QUIET)).window).toMatchObject({ ready: false, neverReported: 3 });
  expect(await resendUnknown(deps(), id, QUIET)).toMatchObject({ outcome: 'not_quiet', requeued: 0 });
  await t.pool.query(`update mailouts set status = 'paused' where id = $1`, [id]);
  await quietFor(id, QUIET + 1);
  expect(await resendUnknown(deps(), id, QUIET)).toMatchObject({ outcome: 'not_finished', requeued: 0 });
  expect(ses.calls.length).toBe(before);
  expect((await t.pool.query(`select count(*)::int n from deliveries where mailout_id = $1 and status = 'unknown'`, [id])).rows[0].n).toBe(3);
});

test('npm run resend-unknown lists and sends nothing without --confirm, sends each once with it, and nothing the second time', async () => {
  await seedSubscribers(t.pool, 5);
  const { id, marked } = await finishedWithUnknown('resend-cli');
  await quietFor(id, QUIET + 1);
  const root = path.resolve(__dirname, '..', '..');
  const cli = (...args: string[]) =>
    runCommand(path.join(root, 'node_modules/.bin/tsx'), [path.join(root, 'scripts', 'resend-unknown.ts'), ...args], {
      cwd: root,
      env: { ...cleanCliEnv(), ...testEnv(t, ses.url), LOG_LEVEL: 'error' },
    });
  const before = ses.calls.length;

  const listed = await cli(id);
  expect(listed.code).toBe(0);
  expect(listed.stdout.trim().split('\n').map((l) => l.split('\t')[0]).sort()).toEqual(marked.map((m) => m.email).sort());
  expect(listed.stderr).toMatch(/Nothing was sent\. Add --confirm/);
  expect(ses.calls.length).toBe(before);

  expect((await cli(id, '--quiet-minutes', '0', '--confirm')).code).toBe(2);
  expect((await cli(id, '--quiet-minutes', '600', '--confirm')).code).toBe(1); // not quiet that long yet
  expect(ses.calls.length).toBe(before);

  const sent = await cli(id, '--confirm');
  expect(sent.code).toBe(0);
  expect(sent.stderr).toMatch(/Queued 3 once more: sent 3, failed 0, unknown 0/);
  expect(ses.calls.length).toBe(before + 3);

  await quietFor(id, QUIET + 1);
  const again = await cli(id, '--confirm');
  expect(again.code).toBe(0);
  expect(again.stdout).toBe('');
  expect(ses.calls.length).toBe(before + 3);
}, 60_000);
