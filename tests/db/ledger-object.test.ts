import fs from 'node:fs';
import path from 'node:path';
import { createApp } from '../../lib/app';
import { loadConfig } from '../../lib/config';
import { createLedger, type Lease } from '../../lib/db/ledger';
import type { Db } from '../../lib/db/types';
import type { TestDatabase } from '../helpers/db';
import { testEnv } from '../send/helpers';

/**
 * The ledger is one object built once from a `Db`; a run's calls are bound to its lease and
 * take none as an argument; rows are converted only by the mappers (tests/db/row-mappers.test.ts).
 */

const ROOT = path.resolve(__dirname, '../..');
const read = (rel: string) => fs.readFileSync(path.join(ROOT, rel), 'utf8');

const LEASE: Lease = { mailoutId: '1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b', leaseToken: '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d', leaseSeconds: 90 };
const SUBSCRIBER = '0b8d2f8e-3c1a-4c57-9a43-7a8f3c2d1e00';

/** A Db that answers each function with the row of its real shape (supabase/sql-functions.sql) and keeps the calls. */
function recordingDb(): Db & { calls: { fn: string; args: Record<string, unknown> }[] } {
  const rows: Record<string, Record<string, unknown>[]> = {
    claim_batch: [{ subscriber_id: SUBSCRIBER, email: 'a@example.com', name: null }],
    begin_sends: [{ subscriber_id: SUBSCRIBER, decision: 'send' }],
    record_results: [{ recorded: 1, requeued: 0 }],
    mailout_counts: [{ recipients: 1, queued: 0, sending: 0, sent: 1, failed: 0, skipped: 0, unknown: 0 }],
    finish_mailout: [{ mailout_id: LEASE.mailoutId, status: 'sent', recipients: 1, sent: 1, failed: 0, skipped: 0, unknown: 0, queued: 0, sent_at: new Date(), last_error: null }],
  };
  const calls: { fn: string; args: Record<string, unknown> }[] = [];
  return {
    kind: 'postgres',
    calls,
    async rpc<T>(fn: string, args: Record<string, unknown> = {}) {
      calls.push({ fn, args });
      return (rows[fn] ?? []) as T[];
    },
    close: async () => undefined,
  };
}

test("every call of a run is made under the run's lease, which no call takes as an argument", async () => {
  const db = recordingDb();
  const run = createLedger(db).run(LEASE);
  expect(await run.claimBatch({ limit: 5 })).toEqual([{ subscriberId: SUBSCRIBER, email: 'a@example.com', name: null }]);
  expect(await run.begin([SUBSCRIBER])).toEqual(new Map([[SUBSCRIBER, 'send']]));
  expect(await run.record([{ subscriberId: SUBSCRIBER, status: 'sent', sesMessageId: 'ses-1' }])).toEqual({ recorded: 1, requeued: 0 });
  expect(await run.counts()).toMatchObject({ sent: 1 });
  expect(await run.finish({ outcome: 'complete' })).toMatchObject({ status: 'sent', sent: 1 });

  const leased = db.calls.filter((c) => c.fn !== 'mailout_counts');
  expect(leased.map((c) => c.fn)).toEqual(['claim_batch', 'begin_sends', 'record_results', 'finish_mailout']);
  for (const c of leased) expect({ fn: c.fn, mailout: c.args.p_mailout_id, token: c.args.p_lease_token }).toEqual({ fn: c.fn, mailout: LEASE.mailoutId, token: LEASE.leaseToken });
  // The calls that extend the lease extend it by the run's lease.
  for (const fn of ['claim_batch', 'begin_sends']) expect(db.calls.find((c) => c.fn === fn)!.args.p_lease_seconds).toBe(LEASE.leaseSeconds);
  expect(db.calls.find((c) => c.fn === 'mailout_counts')!.args).toEqual({ p_mailout_id: LEASE.mailoutId });
});

test('a run with nothing to mark or record makes no call', async () => {
  const db = recordingDb();
  const run = createLedger(db).run(LEASE);
  expect(await run.begin([])).toEqual(new Map());
  expect(await run.record([])).toEqual({ recorded: 0, requeued: 0 });
  expect(db.calls).toEqual([]);
});

test('the composition root builds the ledger once: one object for the app, and no other lib/ or api/ file builds one', async () => {
  const app = createApp(loadConfig(testEnv({ url: 'postgres://nobody@127.0.0.1:1/none' } as TestDatabase, 'http://127.0.0.1:1')));
  try {
    expect(app.ledger).toBe(app.ledger);
    expect(app.sendDeps().ledger).toBe(app.ledger);
  } finally {
    await app.db.close();
  }
  const builders = ['lib', 'api']
    .flatMap((dir) => fs.readdirSync(path.join(ROOT, dir), { recursive: true, encoding: 'utf8' }).map((f) => `${dir}/${f}`))
    .filter((f) => f.endsWith('.ts') && f !== 'lib/db/ledger.ts')
    .filter((f) => /\bcreateLedger\(/.test(read(f)));
  expect(builders).toEqual(['lib/app.ts']);
});

test('no typed wrapper converts a column by hand: the mappers do (lib/db/rows.ts)', () => {
  for (const file of ['lib/db/ledger.ts', 'lib/db/subscribers.ts', 'lib/db/report.ts']) {
    expect({ file, casts: read(file).match(/\b(Number|String|Boolean)\(|\bas (MailoutStatus|ClaimOutcome|string|number)\b/g) ?? [] }).toEqual({ file, casts: [] });
  }
});
