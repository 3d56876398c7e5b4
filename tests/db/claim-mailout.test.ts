import { createLedger, type BeginSendDecision } from '../../lib/db/ledger';
import type { Db } from '../../lib/db/types';
import { createTestDatabase, seedSubscribers, type TestDatabase, STORED_LETTER, leaseOf } from '../helpers/db';

/** begin_send's decision for one message (begin_sends with one id). */
async function beginSend(db: Db, mailoutId: string, leaseToken: string, subscriberId: string): Promise<BeginSendDecision | undefined> {
  return (await createLedger(db).run({ mailoutId, leaseToken, leaseSeconds: 120 }).begin([subscriberId])).get(subscriberId);
}

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  await seedSubscribers(t.pool, 30);
  await seedSubscribers(t.pool, 5, { prefix: 'gone', status: 'unsubscribed' });
  await seedSubscribers(t.pool, 5, { prefix: 'dead', status: 'bounced' });
});
afterAll(async () => {
  await t.drop();
});

// Tests that change the shared subscriber list put it back, pass or fail.
const cleanups: (() => Promise<unknown>)[] = [];
const afterThis = (fn: () => Promise<unknown>) => cleanups.push(fn);
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function expireLease(id: string): Promise<void> {
  await t.pool.query(`update mailouts set lease_until = now() - interval '1 second' where id = $1`, [id]);
}

test('a claim snapshots exactly the active subscribers as queued deliveries', async () => {
  const c = await t.ledger.claim('2b786872-fce7-8352-a3a7-cef5203ccb56', { subject: 'Hello', leaseSeconds: 60, content: STORED_LETTER });
  expect(c).toMatchObject({ outcome: 'claimed', status: 'sending', recipients: 30, queued: 30 });
  expect(c.leaseToken).toMatch(/^[0-9a-f-]{36}$/);
  const { rows } = await t.pool.query(`select email, status from deliveries where mailout_id = '2b786872-fce7-8352-a3a7-cef5203ccb56'`);
  expect(rows).toHaveLength(30);
  expect(rows.every((r) => r.status === 'queued' && r.email.startsWith('sub'))).toBe(true);
});

test('20 concurrent claims from separate connections: exactly one claims, the others are refused quietly', async () => {
  const clients = await Promise.all(Array.from({ length: 20 }, () => t.connect()));
  const results = await Promise.allSettled(
    clients.map((c) =>
      c.query(`select * from claim_mailout(p_mailout_id => '165b3bcb-18e6-863f-a2ed-cff9e344cbbc', p_subject => 'S', p_lease_seconds => 60, p_content => '{"subject":"S"}')`),
    ),
  );
  const rejected = results.filter((r) => r.status === 'rejected');
  expect(rejected).toEqual([]);
  const outcomes = results.map((r) => (r as PromiseFulfilledResult<{ rows: { outcome: string }[] }>).value.rows[0]!.outcome);
  expect(outcomes.filter((o) => o === 'claimed')).toHaveLength(1);
  expect(outcomes.filter((o) => o === 'in_progress')).toHaveLength(19);
  const { rows } = await t.pool.query(`select count(*)::int as n from deliveries where mailout_id = '165b3bcb-18e6-863f-a2ed-cff9e344cbbc'`);
  expect(rows[0].n).toBe(30);
});

test('a sent mailout is refused, and so is a live lease', async () => {
  const c = await t.ledger.claim('f830d65f-a429-821a-b6ce-9c7cb4fd7d5a', { leaseSeconds: 60, content: STORED_LETTER });
  expect((await t.ledger.claim('f830d65f-a429-821a-b6ce-9c7cb4fd7d5a', { leaseSeconds: 60, content: STORED_LETTER })).outcome).toBe('in_progress');
  let batch;
  while ((batch = await t.ledger.run(leaseOf(c)).claimBatch({ limit: 50 })).length) {
    await t.ledger.run(leaseOf(c)).record(batch.map((b) => ({ subscriberId: b.subscriberId, status: 'sent' as const, sesMessageId: `m-done-${b.subscriberId}` })));
  }
  const fin = await t.ledger.run(leaseOf(c)).finish({ outcome: 'complete' });
  expect(fin).toMatchObject({ status: 'sent', sent: 30, failed: 0, queued: 0 });
  expect(fin.sentAt).toBeInstanceOf(Date);
  const again = await t.ledger.claim('f830d65f-a429-821a-b6ce-9c7cb4fd7d5a', { leaseSeconds: 60, content: STORED_LETTER });
  expect(again).toMatchObject({ outcome: 'already_sent', status: 'sent', leaseToken: null });
});

test('a paused mailout resumes with only its queued recipients, under a new lease', async () => {
  const c = await t.ledger.claim('6b680843-5715-8726-bace-e82e12f2f404', { leaseSeconds: 60, content: STORED_LETTER });
  const batch = await t.ledger.run(leaseOf(c)).claimBatch({ limit: 10 });
  await t.ledger.run(leaseOf(c)).record(batch.map((b, i) =>
      i < 8
        ? { subscriberId: b.subscriberId, status: 'sent' as const, sesMessageId: `m-p-${b.subscriberId}` }
        : { subscriberId: b.subscriberId, status: 'queued' as const },
    ));
  const paused = await t.ledger.run(leaseOf(c)).finish({ outcome: 'paused', reason: 'bounce rate' });
  expect(paused).toMatchObject({ status: 'paused', sent: 8, queued: 22, lastError: 'bounce rate' });

  // The old lease can do nothing more.
  await expect(t.ledger.run(leaseOf(c)).claimBatch({ limit: 10 })).rejects.toMatchObject({
    code: 'lease_lost',
  });

  const r = await t.ledger.claim('6b680843-5715-8726-bace-e82e12f2f404', { leaseSeconds: 60, content: STORED_LETTER });
  expect(r).toMatchObject({ outcome: 'resumed', status: 'sending', queued: 22, recipients: 30, unknown: 0 });
  expect(r.leaseToken).not.toBe(c.leaseToken);
  const rest = await t.ledger.run(leaseOf(r)).claimBatch({ limit: 100 });
  expect(rest).toHaveLength(22);
  const sentIds = new Set(batch.slice(0, 8).map((b) => b.subscriberId));
  expect(rest.some((x) => sentIds.has(x.subscriberId))).toBe(false);
});

test('a worker that dies mid-batch: after the lease expires, the messages it was sending become unknown, the rest of its batch goes back to the queue', async () => {
  const dead = await t.ledger.claim('ac30fc84-0945-844e-b77f-9d8fdadc18e5', { leaseSeconds: 60, content: STORED_LETTER });
  const batch = await t.ledger.run(leaseOf(dead)).claimBatch({ limit: 7 });
  expect(batch).toHaveLength(7);
  // It sent two, was sending a third when it died, and never reached the other four.
  for (const b of batch.slice(0, 3)) expect(await beginSend(t.db, 'ac30fc84-0945-844e-b77f-9d8fdadc18e5', dead.leaseToken!, b.subscriberId)).toBe('send');
  await t.ledger.run(leaseOf(dead)).record(batch.slice(0, 2).map((b) => ({ subscriberId: b.subscriberId, status: 'sent' as const, sesMessageId: `m-c0-${b.subscriberId}` })));
  expect((await t.ledger.claim('ac30fc84-0945-844e-b77f-9d8fdadc18e5', { leaseSeconds: 60, content: STORED_LETTER })).outcome).toBe('in_progress');
  await expireLease('ac30fc84-0945-844e-b77f-9d8fdadc18e5');

  const resumed = await t.ledger.claim('ac30fc84-0945-844e-b77f-9d8fdadc18e5', { leaseSeconds: 60, content: STORED_LETTER });
  expect(resumed).toMatchObject({ outcome: 'resumed', queued: 27, unknown: 1 });
  // The dead worker's lease can no longer start a send.
  expect(await beginSend(t.db, 'ac30fc84-0945-844e-b77f-9d8fdadc18e5', dead.leaseToken!, batch[3]!.subscriberId)).toBe('lost');

  const handedOut: string[] = [];
  let next;
  while ((next = await t.ledger.run(leaseOf(resumed)).claimBatch({ limit: 5 })).length) {
    handedOut.push(...next.map((b) => b.subscriberId));
    for (const b of next) expect(await beginSend(t.db, 'ac30fc84-0945-844e-b77f-9d8fdadc18e5', resumed.leaseToken!, b.subscriberId)).toBe('send');
    await t.ledger.run(leaseOf(resumed)).record(next.map((b) => ({ subscriberId: b.subscriberId, status: 'sent' as const, sesMessageId: `m-c-${b.subscriberId}` })));
  }
  expect(handedOut).toHaveLength(27);
  expect(new Set(handedOut).size).toBe(27);
  const alreadyDone = new Set(batch.slice(0, 3).map((b) => b.subscriberId));
  expect(handedOut.filter((id) => alreadyDone.has(id))).toEqual([]);
  expect(handedOut).toEqual(expect.arrayContaining(batch.slice(3).map((b) => b.subscriberId)));

  const fin = await t.ledger.run(leaseOf(resumed)).finish({ outcome: 'complete' });
  expect(fin).toMatchObject({ status: 'sent', sent: 29, unknown: 1 });
  const { rows } = await t.pool.query(
    `select subscriber_id, error_code from deliveries where mailout_id = 'ac30fc84-0945-844e-b77f-9d8fdadc18e5' and status = 'unknown'`,
  );
  expect(rows).toEqual([{ subscriber_id: batch[2]!.subscriberId, error_code: 'interrupted' }]);
});

test('a slow worker whose lease was taken over cannot claim, start sends, or change a row the takeover settled (issue 26: the truth comes from SES events)', async () => {
  const a = await t.ledger.claim('f042c2c3-8f13-880e-b9ae-d4b18e339ef4', { leaseSeconds: 60, content: STORED_LETTER });
  const inFlight = await t.ledger.run(leaseOf(a)).claimBatch({ limit: 3 });
  for (const b of inFlight.slice(0, 2)) await beginSend(t.db, 'f042c2c3-8f13-880e-b9ae-d4b18e339ef4', a.leaseToken!, b.subscriberId);
  await expireLease('f042c2c3-8f13-880e-b9ae-d4b18e339ef4');
  const b = await t.ledger.claim('f042c2c3-8f13-880e-b9ae-d4b18e339ef4', { leaseSeconds: 60, content: STORED_LETTER });
  expect(b).toMatchObject({ outcome: 'resumed', unknown: 2, queued: 28 });
  await expect(t.ledger.run(leaseOf(a)).claimBatch({ limit: 3 })).rejects.toMatchObject({
    code: 'lease_lost',
  });
  expect(await beginSend(t.db, 'f042c2c3-8f13-880e-b9ae-d4b18e339ef4', a.leaseToken!, inFlight[2]!.subscriberId)).toBe('lost');
  // A hand-back from the old lease cannot put an unknown row back in the queue.
  const back = await t.ledger.run(leaseOf(a)).record([{ subscriberId: inFlight[0]!.subscriberId, status: 'queued' }]);
  expect(back).toEqual({ recorded: 0, requeued: 0 });
  const late = await t.ledger.run(leaseOf(a)).record([
    { subscriberId: inFlight[1]!.subscriberId, status: 'sent', sesMessageId: 'm-late-1' },
  ]);
  expect(late.recorded).toBe(0);
  const counts = await t.ledger.counts('f042c2c3-8f13-880e-b9ae-d4b18e339ef4');
  expect(counts).toMatchObject({ sent: 0, unknown: 2, queued: 28, sending: 0 });
  const next = await t.ledger.run(leaseOf(b)).claimBatch({ limit: 100 });
  expect(next).toHaveLength(28);
  expect(next.map((x) => x.subscriberId)).not.toEqual(expect.arrayContaining([inFlight[0]!.subscriberId]));
  expect(next.map((x) => x.subscriberId)).toEqual(expect.arrayContaining([inFlight[2]!.subscriberId]));
});

test('begin_send skips a subscriber who left the list after the batch was claimed', async () => {
  const c = await t.ledger.claim('0c73804b-9457-8b99-8e00-2014e869737d', { leaseSeconds: 60, content: STORED_LETTER });
  const batch = await t.ledger.run(leaseOf(c)).claimBatch({ limit: 2 });
  await t.pool.query(`select * from unsubscribe($1)`, [batch[0]!.subscriberId]);
  afterThis(() => t.pool.query(`update subscribers set status = 'active' where id = $1`, [batch[0]!.subscriberId]));
  expect(await beginSend(t.db, '0c73804b-9457-8b99-8e00-2014e869737d', c.leaseToken!, batch[0]!.subscriberId)).toBe('skip');
  expect(await beginSend(t.db, '0c73804b-9457-8b99-8e00-2014e869737d', c.leaseToken!, batch[1]!.subscriberId)).toBe('send');
  // Twice is refused: a message is started once.
  expect(await beginSend(t.db, '0c73804b-9457-8b99-8e00-2014e869737d', c.leaseToken!, batch[1]!.subscriberId)).toBe('lost');
  const { rows } = await t.pool.query(`select status from deliveries where mailout_id = '0c73804b-9457-8b99-8e00-2014e869737d' and subscriber_id = $1`, [
    batch[0]!.subscriberId,
  ]);
  expect(rows[0].status).toBe('skipped');
});

test('begin_sends gives each id in one call exactly the decision begin_send would, in one transaction', async () => {
  const c = await t.ledger.claim('d23bc49c-fd2b-80c4-b092-0d4a117fc559', { leaseSeconds: 60, content: STORED_LETTER });
  const batch = await t.ledger.run(leaseOf(c)).claimBatch({ limit: 4 });
  const [leaver, a, b, notTaken] = batch.map((x) => x.subscriberId) as [string, string, string, string];
  await t.pool.query(`select * from unsubscribe($1)`, [leaver]);
  afterThis(() => t.pool.query(`update subscribers set status = 'active' where id = $1`, [leaver]));
  // One id twice: the second is refused, as a second begin_send would be.
  const decisions = await t.ledger.run(leaseOf(c, 120)).begin([leaver, a, b, a]);
  expect(decisions.get(leaver)).toBe('skip');
  expect(decisions.get(b)).toBe('send');
  const { rows: twice } = await t.pool.query(
    `select * from begin_sends('d23bc49c-fd2b-80c4-b092-0d4a117fc559', $1::uuid, array[$2::uuid, $2::uuid])`,
    [c.leaseToken, notTaken],
  );
  expect(twice.map((r) => r.decision)).toEqual(['send', 'lost']);
  const { rows } = await t.pool.query(
    `select subscriber_id, status, attempted_at is not null as attempted from deliveries where mailout_id = 'd23bc49c-fd2b-80c4-b092-0d4a117fc559' and subscriber_id = any($1::uuid[])`,
    [[leaver, a, b, notTaken]],
  );
  const byId = Object.fromEntries(rows.map((r) => [r.subscriber_id, r]));
  expect(byId[leaver]).toMatchObject({ status: 'skipped', attempted: false });
  for (const id of [a, b, notTaken]) expect(byId[id]).toMatchObject({ status: 'sending', attempted: true });
  // A stale lease token marks nothing.
  const stale = await t.ledger.run({ mailoutId: 'd23bc49c-fd2b-80c4-b092-0d4a117fc559', leaseToken: '00000000-0000-4000-8000-000000000000', leaseSeconds: 120 }).begin([a]);
  expect(stale.get(a)).toBe('lost');
});

test('a subscriber who unsubscribes after the claim is skipped, not sent', async () => {
  const c = await t.ledger.claim('7c588f7a-8b2c-89a6-bcef-94d5f2d28dca', { leaseSeconds: 60, content: STORED_LETTER });
  const { rows } = await t.pool.query(`select subscriber_id from deliveries where mailout_id = '7c588f7a-8b2c-89a6-bcef-94d5f2d28dca' order by subscriber_id limit 3`);
  const leaving = rows.map((r) => r.subscriber_id as string);
  await t.pool.query(`select * from unsubscribe($1)`, [leaving[0]]);
  await t.pool.query(`update subscribers set status = 'bounced' where id = $1`, [leaving[1]]);
  afterThis(() => t.pool.query(`update subscribers set status = 'active' where id = any($1::uuid[])`, [leaving]));
  const handed: string[] = [];
  let batch;
  while ((batch = await t.ledger.run(leaseOf(c)).claimBatch({ limit: 50 })).length) {
    handed.push(...batch.map((b) => b.subscriberId));
    await t.ledger.run(leaseOf(c)).record(batch.map((b) => ({ subscriberId: b.subscriberId, status: 'sent' as const, sesMessageId: `m-u-${b.subscriberId}` })));
  }
  expect(handed).toHaveLength(28);
  expect(handed).not.toContain(leaving[0]);
  expect(handed).not.toContain(leaving[1]);
  expect(handed).toContain(leaving[2]);
  const fin = await t.ledger.run(leaseOf(c)).finish({ outcome: 'complete' });
  expect(fin).toMatchObject({ status: 'sent', sent: 28, skipped: 2 });
});

test('a batch made only of departed subscribers does not end the drain early', async () => {
  const c = await t.ledger.claim('35c08a2f-d031-8918-b1a0-d32030173685', { leaseSeconds: 60, content: STORED_LETTER });
  const { rows } = await t.pool.query(`select subscriber_id from deliveries where mailout_id = '35c08a2f-d031-8918-b1a0-d32030173685' order by subscriber_id limit 4`);
  await t.pool.query(`update subscribers set status = 'unsubscribed' where id = any($1::uuid[])`, [rows.map((r) => r.subscriber_id)]);
  afterThis(() => t.pool.query(`update subscribers set status = 'active' where id = any($1::uuid[])`, [rows.map((r) => r.subscriber_id)]));
  const batch = await t.ledger.run(leaseOf(c)).claimBatch({ limit: 4 });
  expect(batch).toHaveLength(4);
  expect(batch.map((b) => b.subscriberId)).not.toEqual(expect.arrayContaining([rows[0].subscriber_id]));
});

test('finishing as complete is refused while deliveries are still queued', async () => {
  const c = await t.ledger.claim('1517f2c4-0e3c-8225-b058-b2623a9ae5ff', { leaseSeconds: 60, content: STORED_LETTER });
  await expect(t.ledger.run(leaseOf(c)).finish({ outcome: 'complete' })).rejects.toMatchObject({
    code: 'unfinished',
  });
  const mailout = await t.pool.query(`select status from mailouts where id = '1517f2c4-0e3c-8225-b058-b2623a9ae5ff'`);
  expect(mailout.rows[0].status).toBe('sending');
});

test('a mailout where every send failed ends failed, and can be resumed', async () => {
  const c = await t.ledger.claim('d5b15d4d-11b3-8cee-890e-d35a9fadf5f5', { leaseSeconds: 60, content: STORED_LETTER });
  let batch;
  while ((batch = await t.ledger.run(leaseOf(c)).claimBatch({ limit: 50 })).length) {
    await t.ledger.run(leaseOf(c)).record(batch.map((b) => ({ subscriberId: b.subscriberId, status: 'failed' as const, errorCode: 'MessageRejected', errorMessage: 'no' })));
  }
  const fin = await t.ledger.run(leaseOf(c)).finish({ outcome: 'complete' });
  expect(fin).toMatchObject({ status: 'failed', failed: 30, sent: 0, lastError: 'no recipient could be sent' });
  const r = await t.ledger.claim('d5b15d4d-11b3-8cee-890e-d35a9fadf5f5', { leaseSeconds: 60, content: STORED_LETTER });
  expect(r).toMatchObject({ outcome: 'resumed', queued: 0 });
});

test('a released lease lets the next invocation resume at once, with nothing marked unknown', async () => {
  const c = await t.ledger.claim('6847a31a-ef67-8659-888b-df9f0aa4b27f', { leaseSeconds: 600, content: STORED_LETTER });
  const batch = await t.ledger.run(leaseOf(c, 600)).claimBatch({ limit: 10 });
  await t.ledger.run(leaseOf(c)).record(batch.map((b) => ({ subscriberId: b.subscriberId, status: 'sent' as const, sesMessageId: `m-b-${b.subscriberId}` })));
  const rel = await t.ledger.run(leaseOf(c)).finish({ outcome: 'released' });
  expect(rel).toMatchObject({ status: 'sending', sent: 10, queued: 20 });
  const next = await t.ledger.claim('6847a31a-ef67-8659-888b-df9f0aa4b27f', { leaseSeconds: 600, content: STORED_LETTER });
  expect(next).toMatchObject({ outcome: 'resumed', queued: 20, unknown: 0 });
});

test('bad arguments are refused with a clear error', async () => {
  await expect(t.ledger.claim('  ', { leaseSeconds: 60, content: STORED_LETTER })).rejects.toMatchObject({ code: 'bad_request' });
  await expect(
    t.ledger.run({ mailoutId: 'x', leaseToken: '00000000-0000-0000-0000-000000000000', leaseSeconds: 60 }).record([{ subscriberId: 'nope', status: 'sent', sesMessageId: 'a' }]),
  ).rejects.toMatchObject({ code: 'bad_request' });
});
