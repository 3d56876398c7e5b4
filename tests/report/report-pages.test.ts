import { createLedger } from '../../lib/db/ledger';
import { createSupabaseDb } from '../../lib/db/supabase';
import type { Db } from '../../lib/db/types';
import { openMailoutReport, reportStream } from '../../lib/report';
import { startFakePostgrest, type FakePostgrest } from '../../scripts/fakes/postgrest';
import { createTestDatabase, seedSubscribers, STORED_LETTER, type TestDatabase, copyAllRecipients } from '../helpers/db';
import { readReport } from './read-report';

/**
 * The report CSV at a size PostgREST cannot answer in one call: read in keyset pages through
 * both adapters, the same bytes either way, one page at a time, and never a short file.
 */
const KEY = 'service-role-key-for-report-tests-0123456789';
const MAILOUT = '7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f';
const RECIPIENTS = 2500;
let t: TestDatabase;
let rest: FakePostgrest;
let supabase: Db;

beforeAll(async () => {
  t = await createTestDatabase();
  await seedSubscribers(t.pool, RECIPIENTS);
  await t.ledger.claim(MAILOUT, { leaseSeconds: 60, content: STORED_LETTER });
  await copyAllRecipients(t.pool, MAILOUT);
  // Every status, scattered over the list, with text a CSV must quote and a formula to defuse.
  await t.pool.query(
    `update deliveries d set
       status = s.status,
       ses_message_id = case when s.status in ('sent', 'failed', 'unknown') then 'msg-' || d.subscriber_id end,
       error_code = case when s.status in ('failed', 'unknown') then 'MessageRejected' end,
       error_message = case when s.status = 'failed' then 'Адрес отклонён, "навсегда"; =HYPERLINK(1)' end,
       attempts = case when s.status = 'queued' then 0 else 1 end
      from (select subscriber_id, (array['sent','sent','sent','sent','failed','unknown','skipped','queued','sending','sent'])[1 + (row_number() over (order by email)) % 10] as status
              from deliveries where mailout_id = $1) s
     where d.mailout_id = $1 and d.subscriber_id = s.subscriber_id`,
    [MAILOUT],
  );
  await t.pool.query(
    `insert into ses_events (sns_message_id, event_type, ses_message_id, bounce_class, payload)
     select 'sns-' || subscriber_id, 'Bounce', ses_message_id, 'hard', '{}'::jsonb from deliveries where mailout_id = $1 and status = 'sent' limit 40`,
    [MAILOUT],
  );
  rest = await startFakePostgrest(t.url, KEY);
  supabase = createSupabaseDb(rest.url, KEY);
});
afterAll(async () => {
  await rest.close();
  await t.drop();
});

const reportCalls = () => rest.requests.filter((r) => r.path === '/rest/v1/rpc/mailout_report_page').length;

test('a 2,500-recipient report through SUPABASE_URL has every row, byte for byte the same as through DATABASE_URL', async () => {
  const direct = await readReport(t.db, MAILOUT);
  const viaRest = await readReport(supabase, MAILOUT);
  expect(viaRest.rows).toBe(RECIPIENTS);
  expect(direct.rows).toBe(RECIPIENTS);
  expect(Buffer.from(viaRest.csv)).toEqual(Buffer.from(direct.csv));
  const lines = direct.csv.split('\r\n');
  expect(lines.pop()).toBe('');
  expect(lines).toHaveLength(RECIPIENTS + 1);
  const emails = lines.slice(1).map((l) => l.split(',')[0]);
  expect(new Set(emails).size).toBe(RECIPIENTS);
  // Failures first: the statuses come in this order, each once as a run.
  const runs = lines.slice(1).map((l) => l.split(',')[1]).filter((s, i, all) => s !== all[i - 1]);
  expect(runs).toEqual(['failed', 'unknown', 'skipped', 'queued', 'sending', 'sent']);
  expect(direct.csv).toContain(',failed,,MessageRejected,"Адрес отклонён, ""навсегда""; =HYPERLINK(1)",msg-');
  expect(lines.filter((l) => l.includes(',sent,hard_bounce,'))).toHaveLength(40);
});

test('the CSV starts with a UTF-8 byte order mark (Excel shows Cyrillic), then the header line', async () => {
  const { csv } = await readReport(t.db, MAILOUT);
  const bytes = Buffer.from(csv, 'utf8');
  expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
  expect(csv.slice(1, csv.indexOf('\r\n'))).toBe('email,status,feedback,error_code,error_message,ses_message_id,attempts,updated_at');
});

test('pages of any size give the same file: each continues after the last row of the one before', async () => {
  const whole = (await readReport(t.db, MAILOUT)).csv;
  for (const pageRows of [13, 249, 10000]) {
    const { csv, rows } = await readReport(t.db, MAILOUT, pageRows);
    expect({ pageRows, rows, same: csv === whole }).toEqual({ pageRows, rows: RECIPIENTS, same: true });
  }
});

test('the stream reads the next page only when its reader asks for more: one page in memory', async () => {
  const before = reportCalls();
  const report = await openMailoutReport(createLedger(supabase), MAILOUT);
  expect(reportCalls() - before).toBe(1);
  const reader = reportStream(report).getReader();
  await reader.read(); // the BOM and header
  await reader.read(); // page 1, already read
  expect(reportCalls() - before).toBe(1);
  await reader.read();
  expect(reportCalls() - before).toBe(2);
  await reader.cancel();
  expect(reportCalls() - before).toBe(2);
});

test('a page that fails midway errors the stream: the reader never gets a short file that looks whole', async () => {
  let calls = 0;
  const failing: Db = {
    ...t.db,
    rpc: async (fn, args) => {
      if (fn === 'mailout_report_page' && ++calls === 3) throw new Error('connection reset');
      return t.db.rpc(fn, args);
    },
  };
  const report = await openMailoutReport(createLedger(failing), MAILOUT);
  const read = new Response(reportStream(report)).text();
  await expect(read).rejects.toThrow();
});

test('a mailout that was never claimed is not_found before any byte; a claimed one without recipients is the header alone', async () => {
  await expect(openMailoutReport(createLedger(supabase), '00000000-0000-4000-8000-000000000000')).rejects.toMatchObject({ code: 'not_found' });
  const empty = '1b2c3d4e-5f60-4172-8394-a5b6c7d8e9f0';
  await t.pool.query(`insert into mailouts (id, status) values ($1, 'sent')`, [empty]);
  const { csv, rows } = await readReport(supabase, empty);
  expect(rows).toBe(0);
  expect(csv).toBe('\uFEFFemail,status,feedback,error_code,error_message,ses_message_id,attempts,updated_at\r\n');
});
