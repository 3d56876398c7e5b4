import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createApp } from '../../lib/app';
import { loadConfig } from '../../lib/config';
import { startMailout } from '../../lib/send';
import { startFakeSes, type FakeSes } from '../../scripts/fakes/ses';
import { makePage, richTextProperty, startFakeNotion, titleProperty, type FakeNotion } from '../../scripts/fakes/notion-page';
import { createTestDatabase, seedSubscribers, type TestDatabase } from '../helpers/db';
import { testEnv, readySender } from './helpers';

/**
 * A Markdown mailout never touches Notion: its continuation (the cron's, through the
 * webhook's wiring, which has a Notion reporter) and the SES feedback's counts refresh make no
 * Notion request, even when its front matter `id:` is the id of a real page.
 */
const TOKEN = 'secret_markdown';
const world = {} as { t: TestDatabase; ses: FakeSes; notion: FakeNotion; dir: string };

beforeAll(async () => {
  Object.assign(world, {
    t: await createTestDatabase(),
    ses: await startFakeSes({ account: { SendQuota: { Max24HourSend: -1, MaxSendRate: 5000 } } }),
    notion: await startFakeNotion({ token: TOKEN }),
    dir: fs.mkdtempSync(path.join(os.tmpdir(), 'markdown-notion-')),
  });
  await seedSubscribers(world.t.pool, 120);
});
afterAll(async () => {
  fs.rmSync(world.dir, { recursive: true, force: true });
  await Promise.all([world.notion.close(), world.ses.close()]);
  await world.t.drop();
});

test('a Markdown mailout whose id is a real page: its continuation and its feedback refresh never write to Notion', async () => {
  const { t, ses, notion, dir } = world;
  const mailouts = notion.addDatabase({ title: 'Mailouts' });
  const page = notion.addPage(
    makePage({ dataSourceId: mailouts.dataSourceId, properties: { Name: titleProperty('Someone else\'s page'), 'Last error': richTextProperty('') } }),
  );
  const file = path.join(dir, 'letter.md');
  fs.writeFileSync(file, `---\nid: ${page.id}\nsubject: From a file\n---\n\nHello {{name|reader}}.\n`);
  const config = loadConfig({
    ...testEnv(t, ses.url, { BATCH_SIZE: '50' }),
    NOTION_TOKEN: TOKEN,
    NOTION_BASE_URL: notion.url,
    NOTION_MAILOUTS_DATABASE_ID: mailouts.databaseId,
  });
  const app = createApp(config);

  // The CLI's first invocation runs out of time after one batch.
  const cli = app.sendDeps({ letterFile: file });
  cli.deadline = () => Date.now();
  // The sender checks are tests/readiness's; this test is about where the write-back goes.
  cli.readiness = readySender;
  delete cli.continueElsewhere;
  const first = await startMailout(cli, { mailoutId: page.id, fromNotion: false, dryRun: false, continuation: false });
  expect((await first.run!()).outcome).toBe('released');
  notion.clearRequests();

  // The cron's continuation arrives through the webhook's wiring.
  const webhook = app.sendDeps();
  delete webhook.continueElsewhere;
  webhook.deadline = () => Number.POSITIVE_INFINITY;
  const next = await startMailout(webhook, { mailoutId: page.id, fromNotion: false, dryRun: false, continuation: true });
  expect(next.status).toBe(202);
  expect(await next.run!()).toMatchObject({ outcome: 'complete' });
  expect(ses.sent).toHaveLength(120);

  // SES feedback refreshes the counts of its mailout.
  await app.countsRefresher()!(page.id);

  expect(notion.requests).toEqual([]);
  expect(notion.pageUpdates).toEqual([]);
});
