import { createNotionClient } from '../../lib/notion/client';
import { createNotionReporter } from '../../lib/notion/writeback';
import { makePage, richTextProperty, selectProperty, startFakeNotion, type FakeNotion } from '../../scripts/fakes/notion';

/** What the Notion page says about readiness: why a live send was refused, and the warnings of one that went ahead. */

const TOKEN = 'secret_readiness_page';
const PAGE = '5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d';
let notion: FakeNotion;

beforeAll(async () => {
  notion = await startFakeNotion({ token: TOKEN });
  notion.addPage(makePage({ id: PAGE, properties: { Status: selectProperty('Ready'), 'Last error': richTextProperty('') } }));
});
afterAll(async () => {
  await notion.close();
});

function reporter() {
  const client = createNotionClient({ token: TOKEN, baseUrl: notion.url }, { retry: false });
  return createNotionReporter(client, { appBaseUrl: 'https://mailout.example.com', reportSecret: 'report-secret-0123456789', notion: {} }, { origin: async () => 'notion' });
}
type Update = { properties: Record<string, { rich_text: { text: { content: string } }[] }> };
const lastUpdate = () => notion.pageUpdates.at(-1)!.body as unknown as Update;
const lastError = () => lastUpdate().properties['Last error']!.rich_text[0]!.text.content;

test('a refused live send writes why on the page, and leaves the status alone', async () => {
  await reporter().refused(PAGE, 'Not sent: the sender is not ready. DKIM: Easy DKIM status of example.com is PENDING, not SUCCESS → Publish …');
  expect(lastError()).toMatch(/^\d{4}-\d\d-\d\dT.*: Not sent: the sender is not ready\. DKIM: .*PENDING/);
  expect(lastUpdate().properties).not.toHaveProperty('Status');
});

test("a live send's warnings go onto the page as it starts", async () => {
  await reporter().sending(PAGE, { recipients: 3, queued: 3, resumed: false, warnings: ['Custom MAIL FROM: none → Set a custom MAIL FROM domain'] });
  expect(lastError()).toBe('⚠ Custom MAIL FROM: none → Set a custom MAIL FROM domain');
});
