import { startMailout, type SendDeps } from '../../lib/send';
import { createNotionClient } from '../../lib/notion/client';
import { ERRORS_CAP } from '../../lib/notion/writeback';
import { notionCountsRefresher, notionReporter } from '../../lib/app';
import { verifyReportLink } from '../../lib/report';
import { readReport } from '../report/read-report';
import { setLogSink } from '../../lib/log';
import { startFakeSes, type FakeSes } from '../../scripts/fakes/ses';
import { ERROR_PROPERTIES } from '../../lib/notion/schema';
import { checkboxProperty, dataSourceProperties, makePage, numberPropertyValue, richTextProperty, selectProperty, startFakeNotion, titleProperty, type FakeNotion } from '../../scripts/fakes/notion-page';
import { createTestDatabase, seedSubscribers, type TestDatabase } from '../helpers/db';
import { sendDeps, testConfig } from './helpers';

/**
 * What the publisher sees in Notion: the page's status, counts and report link, and a row in
 * the Errors database for each failed recipient (capped per mailout), all through the real
 * @notionhq/client against a fake Notion API; and a Notion outage that changes nothing.
 */
const PAGE = '2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d';
let t: TestDatabase;
let ses: FakeSes;
let notion: FakeNotion;
let errorsDb: { databaseId: string; dataSourceId: string };
let logs: string[] = [];
let restoreSink: (line: string) => void;

const PAGE_PROPERTIES = {
  Name: titleProperty('Weekly news'),
  Test: checkboxProperty(false),
  Status: selectProperty('Ready'),
  Recipients: numberPropertyValue(null),
  Sent: numberPropertyValue(null),
  Failed: numberPropertyValue(null),
  Skipped: numberPropertyValue(null),
  Unknown: numberPropertyValue(null),
  Delivered: numberPropertyValue(null),
  Bounced: numberPropertyValue(null),
  Complaints: numberPropertyValue(null),
  'Sent at': { id: 'date', type: 'date', date: null },
  Report: { id: 'url', type: 'url', url: null },
  'Last error': richTextProperty(''),
};

beforeAll(async () => {
  t = await createTestDatabase();
  ses = await startFakeSes({ account: { SendQuota: { Max24HourSend: -1, MaxSendRate: 5000 } } });
  notion = await startFakeNotion({ token: 'secret_writeback' });
  errorsDb = notion.addDatabase({ title: 'Errors', properties: dataSourceProperties(ERROR_PROPERTIES, 'en') });
  restoreSink = setLogSink((line) => logs.push(line));
});
afterAll(async () => {
  setLogSink(restoreSink);
  await notion.close();
  await ses.close();
  await t.drop();
});
beforeEach(async () => {
  ses.reset();
  logs = [];
  notion.pageUpdates.length = 0;
  notion.createdPages.length = 0;
  notion.clearRequests();
  notion.clearFailures();
  notion.addPage(makePage({ id: PAGE, properties: structuredClone(PAGE_PROPERTIES) }));
  await t.pool.query('truncate subscribers, mailouts, deliveries, test_sends, ses_events cascade');
});

function deps(env: Record<string, string> = {}): SendDeps {
  const config = testConfig(t, ses.url, {
    NOTION_TOKEN: 'secret_writeback',
    NOTION_BASE_URL: notion.url,
    NOTION_ERRORS_DATABASE_ID: errorsDb.databaseId,
    SEND_CONCURRENCY: '4',
    ...env,
  });
  const client = createNotionClient(config, { retry: { maxRetries: 1, initialRetryDelayMs: 5, maxRetryDelayMs: 10 } });
  return sendDeps(config, t, { reporter: notionReporter(config, t.db, t.ledger, client) });
}

async function send(d: SendDeps, continuation = false) {
  const res = await startMailout(d, { mailoutId: PAGE, fromNotion: true, dryRun: false, continuation });
  expect(res.run).toBeDefined();
  return res.run!();
}

const updates = () => notion.pageUpdates.filter((u) => u.pageId === PAGE).map((u) => u.body.properties as Record<string, any>);
const errorRows = () => notion.createdPages.filter((p) => p.parent?.data_source_id === errorsDb.databaseId || p.parent?.database_id === errorsDb.databaseId || p.parent?.data_source_id === errorsDb.dataSourceId);
const plain = (rt: any[]): string => rt.map((r) => r.plain_text ?? r.text?.content).join('');

test('the page shows Sending at the claim, progress while sending, then Sent with the counts, the time and a signed report link', async () => {
  await seedSubscribers(t.pool, 600);
  const d = deps();
  const summary = await send(d);
  expect(summary).toMatchObject({ outcome: 'complete', sent: 600 });

  const all = updates();
  expect(all[0]).toMatchObject({ Status: { select: { name: 'Sending' } }, Recipients: { number: 600 } });
  // 600 recipients in batches of 50: progress after batches 5 and 10.
  const progress = all.filter((p) => !p.Status && p.Sent);
  expect(progress.map((p) => p.Sent.number)).toEqual([250, 500]);
  const last = all.at(-1)!;
  expect(last).toMatchObject({
    Status: { select: { name: 'Sent' } },
    Recipients: { number: 600 },
    Sent: { number: 600 },
    Failed: { number: 0 },
    Skipped: { number: 0 },
    Unknown: { number: 0 },
  });
  expect(Date.parse(last['Sent at'].date.start)).toBeGreaterThan(Date.now() - 60_000);
  const report = new URL(last.Report.url);
  expect(report.origin + report.pathname).toBe('https://mailout.example.com/api/report');
  expect(report.searchParams.get('mailout_id')).toBe(PAGE);
  expect(verifyReportLink(d.config, report.searchParams)).toBe(PAGE);
  // The stored page now says so too.
  expect(notion.pages.get(PAGE)!.properties.Status.select.name).toBe('Sent');
  expect(errorRows()).toHaveLength(0);
});

test('report links expire, so every later write renews the page\'s link: the feedback counts refresh and a second press of the button', async () => {
  await seedSubscribers(t.pool, 10);
  const d = deps({ REPORT_LINK_DAYS: '7' });
  await send(d);
  const sentLink = new URL(updates().at(-1)!.Report.url);
  expect(Number(sentLink.searchParams.get('exp')) * 1000).toBeGreaterThan(Date.now() + 6 * 86_400_000);
  notion.pageUpdates.length = 0;

  const refresh = notionCountsRefresher(d.config, t.db)!;
  await refresh(PAGE);
  const refreshed = new URL(updates().at(-1)!.Report.url);
  expect(verifyReportLink(d.config, refreshed.searchParams)).toBe(PAGE);

  const again = await startMailout(d, { mailoutId: PAGE, fromNotion: true, dryRun: false, continuation: false });
  expect(again.body).toMatchObject({ outcome: 'duplicate' });
  await again.after;
  const pressed = updates().at(-1)!;
  expect(verifyReportLink(d.config, new URL(pressed.Report.url).searchParams)).toBe(PAGE);
  expect(await t.pool.query('select count(*)::int as n from deliveries').then((r) => r.rows[0].n)).toBe(10);
});

test('each failed recipient becomes a row in the Errors database with its address, code and message', async () => {
  await seedSubscribers(t.pool, 100);
  const { rows } = await t.pool.query<{ email: string }>('select email from subscribers order by email limit 3');
  const bad = rows.map((r) => r.email);
  ses.setFailure({ to: bad, error: 'MessageRejected' });
  const summary = await send(deps());
  expect(summary).toMatchObject({ outcome: 'complete', sent: 97, failed: 3 });

  const created = errorRows();
  expect(created).toHaveLength(3);
  const byEmail = new Map(created.map((p) => [plain(p.properties.Email.title), p.properties]));
  expect([...byEmail.keys()].sort()).toEqual([...bad].sort());
  for (const email of bad) {
    const p = byEmail.get(email)!;
    expect(plain(p.Mailout.rich_text)).toBe(PAGE);
    expect(plain(p.Code.rich_text)).toBe('MessageRejected');
    expect(plain(p.Message.rich_text)).toContain(email);
    expect(p.At.date.start).toMatch(/^\d{4}-\d\d-\d\dT/);
  }
  expect(updates().at(-1)).toMatchObject({ Status: { select: { name: 'Sent' } }, Failed: { number: 3 }, Sent: { number: 97 } });
});

test('Errors rows are capped per mailout, across invocations; the report CSV keeps every failure', async () => {
  await seedSubscribers(t.pool, 200);
  // 70 recipients refused, at most 9 in each batch of 25 (batches are claimed in subscriber-id
  // order), so that no order of the concurrent answers makes 10 failures in a row, which
  // pauses the mailout by design. A tiny time budget splits the send over several invocations.
  const batchSize = 25;
  const { rows } = await t.pool.query<{ email: string }>('select email from subscribers order by id');
  const refused = rows.filter((_, i) => i % batchSize < 9).slice(0, 70);
  ses.setFailure({ to: refused.map((r) => r.email), error: 'MessageRejected' });
  const d = deps({ BATCH_SIZE: String(batchSize) });
  // No time left: each invocation sends one batch, releases the lease, and is continued.
  const budgeted: SendDeps = { ...d, deadline: () => Date.now() };
  let summary = await send(budgeted);
  let invocations = 1;
  while (summary.outcome === 'released') {
    summary = await send(budgeted, true);
    invocations += 1;
  }
  expect(invocations).toBeGreaterThan(2);
  expect(summary.final).toMatchObject({ status: 'sent', failed: 70, sent: 130 });
  expect(errorRows()).toHaveLength(ERRORS_CAP);
  const { csv, rows: reported } = await readReport(t.db, PAGE);
  expect(reported).toBe(200);
  const lines = csv.trim().split('\r\n').slice(1);
  // Failures first: the first 70 lines are the refused recipients.
  expect(lines.slice(0, 70).every((l) => l.split(',')[1] === 'failed')).toBe(true);
  expect(lines.slice(70).every((l) => l.split(',')[1] === 'sent')).toBe(true);
});

test('a Notion outage neither stops nor fails the send: every recipient is sent and the failures are logged', async () => {
  await seedSubscribers(t.pool, 120);
  notion.failNext({ path: /^\/v1\//, times: 10_000, status: 503 });
  const summary = await send(deps());
  expect(summary).toMatchObject({ outcome: 'complete', sent: 120, failed: 0 });
  expect(ses.sent).toHaveLength(120);
  const { rows } = await t.pool.query('select status, sent from mailouts where id = $1', [PAGE]);
  expect(rows[0]).toMatchObject({ status: 'sent', sent: 120 });
  expect(notion.pageUpdates).toHaveLength(0);
  expect(logs.some((l) => l.includes('notion.writeback_failed'))).toBe(true);
  // The token never reaches the log.
  expect(logs.join('\n')).not.toContain('secret_writeback');
});

test('Errors rows go through the shared Notion limit of about 3 requests a second', async () => {
  await seedSubscribers(t.pool, 40);
  const { rows } = await t.pool.query<{ email: string }>('select email from subscribers order by email limit 12');
  ses.setFailure({ to: rows.map((r) => r.email), error: 'MessageRejected' });
  await send(deps());
  const creates = notion.requests.filter((r) => r.method === 'POST' && r.path === '/v1/pages');
  expect(creates).toHaveLength(12);
  // A bucket of 3 a second with a burst of 3: the 12 rows (after the page updates before
  // them) cannot all go out in less than (12 - 3) / 3 seconds.
  const span = creates.at(-1)!.at - creates[0]!.at;
  expect(span).toBeGreaterThanOrEqual(((12 - 3) / 3) * 1000 - 50);
  // And Notion (the fake keeps its limit) refused none of them.
  expect(notion.requests.filter((r) => r.status === 429)).toEqual([]);
}, 30_000);
