import { startMailout, type SendRequest } from '../../lib/send';
import { silentReporter } from '../../lib/mailout-reporter';
import { startFakeSes, type FakeSes } from '../../scripts/fakes/ses';
import { createTestDatabase, seedSubscribers, type TestDatabase } from '../helpers/db';
import { sendDeps, testConfig } from './helpers';

/**
 * FOOTER_ADDRESS (the postal address anti-spam laws require): a live send without it is
 * refused before anything is claimed; test sends and dry runs go ahead with a warning.
 */
const MAILOUT = '3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f';
let t: TestDatabase;
let ses: FakeSes;

beforeAll(async () => {
  t = await createTestDatabase();
  ses = await startFakeSes({ account: { SendQuota: { Max24HourSend: -1, MaxSendRate: 5000 } } });
  await seedSubscribers(t.pool, 5);
});
afterAll(async () => {
  await ses.close();
  await t.drop();
});
beforeEach(async () => {
  ses.reset();
  await t.pool.query('truncate mailouts, deliveries, test_sends cascade');
});

const request = (extra: Partial<SendRequest> = {}): SendRequest => ({ mailoutId: MAILOUT, fromNotion: false, dryRun: false, continuation: false, ...extra });
const noFooter = () => testConfig(t, ses.url, { FOOTER_ADDRESS: '' });

test('a live send without FOOTER_ADDRESS answers 412 naming it, and claims and sends nothing', async () => {
  const err = await startMailout(sendDeps(noFooter(), t), request()).catch((e: unknown) => e);
  expect(err).toMatchObject({ status: 412, code: 'precondition_failed' });
  expect((err as Error).message).toMatch(/FOOTER_ADDRESS is not set/);
  expect((await t.pool.query('select count(*)::int as n from mailouts')).rows[0].n).toBe(0);
  expect((await t.pool.query('select count(*)::int as n from deliveries')).rows[0].n).toBe(0);
  expect(ses.callCount).toBe(0);
  expect(ses.getAccountCalls).toBe(0);
});

test('a whitespace-only FOOTER_ADDRESS counts as unset', async () => {
  const config = { ...noFooter(), footerAddress: '   ' };
  await expect(startMailout(sendDeps(config, t), request())).rejects.toMatchObject({ status: 412 });
});

test('a test send without FOOTER_ADDRESS goes out and warns, in the answer and in the note for the Notion page', async () => {
  const notes: { sent: number; warnings?: string[] }[] = [];
  const reporter = { ...silentReporter, testSent: async (_id: string, info: { sent: number; warnings?: string[] }) => void notes.push(info) };
  const res = await startMailout(sendDeps(noFooter(), t, { reporter }), request({ mode: 'test' }));
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ outcome: 'test_sent', sent: 2 });
  expect((res.body.warnings as string[]).join(' ')).toMatch(/FOOTER_ADDRESS is not set/);
  expect(notes[0]!.warnings!.join(' ')).toMatch(/FOOTER_ADDRESS/);
  expect((await t.pool.query('select count(*)::int as n from mailouts')).rows[0].n).toBe(0);
});

test('a dry run without FOOTER_ADDRESS warns; with it, no warning and the live send starts', async () => {
  const dry = await startMailout(sendDeps(noFooter(), t), request({ dryRun: true }));
  expect((dry.body.warnings as string[]).join(' ')).toMatch(/FOOTER_ADDRESS/);
  const withFooter = testConfig(t, ses.url);
  const dry2 = await startMailout(sendDeps(withFooter, t), request({ dryRun: true }));
  expect(dry2.body.warnings).toEqual([]);
  const live = await startMailout(sendDeps(withFooter, t), request());
  expect(live.status).toBe(202);
  await live.run!();
  expect(ses.sentCount).toBe(5);
});
