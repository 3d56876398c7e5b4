import { createNotionClient, notionRateLimiter } from '../../lib/notion/client';
import { makePage, NOTION_RATE_LIMIT, startFakeNotion, titleProperty, type FakeNotion } from '../../scripts/fakes/notion';

/**
 * The Notion fake is no kinder than Notion, by default, with no option to set: an average
 * of 3 requests a second per integration token, a small burst, and over it Notion's 429
 * (scripts/fakes/notion.ts, NOTION_RATE_LIMIT, with its sources). The product's shared
 * limiter keeps under it.
 */
const TOKEN = 'secret_rate_limit_tests';
let fake: FakeNotion;
let now = 0;

afterEach(async () => {
  await fake?.close();
});

async function startWithClock(): Promise<string> {
  now = 1_000_000;
  fake = await startFakeNotion({ token: TOKEN, clock: () => now });
  return fake.addPage(makePage({ properties: { Name: titleProperty('Hi') } })).id;
}

const retrieve = (id: string, token = TOKEN) => fetch(`${fake.url}/v1/pages/${id}`, { headers: { authorization: `Bearer ${token}`, 'notion-version': '2025-09-03' } });

test('Notion\'s limit by default: a burst of 6 at once, then 429 rate_limited with an integer Retry-After, as Notion answers it', async () => {
  const page = await startWithClock();
  expect(NOTION_RATE_LIMIT).toEqual({ perSecond: 3, burst: 6 });
  for (let i = 0; i < 6; i += 1) expect((await retrieve(page)).status).toBe(200);

  const refused = await retrieve(page);
  expect(refused.status).toBe(429);
  expect(refused.headers.get('retry-after')).toBe('1');
  expect(await refused.json()).toEqual({
    object: 'error',
    status: 429,
    code: 'rate_limited',
    message: 'You have been rate limited. Please try again in a few minutes.',
    request_id: expect.any(String),
  });
  expect(fake.requests.at(-1)).toMatchObject({ status: 429, failed: true });
});

test('the bucket refills at 3 a second and is kept per integration token', async () => {
  const page = await startWithClock();
  for (let i = 0; i < 6; i += 1) await retrieve(page);
  expect((await retrieve(page)).status).toBe(429);

  now += 1000 / 3; // one token back
  expect((await retrieve(page)).status).toBe(200);
  expect((await retrieve(page)).status).toBe(429);

  // Another integration has its own budget (this one is refused only for its token).
  expect((await retrieve(page, 'secret_another_integration')).status).toBe(401);
  now += 10_000; // a long pause fills the bucket to its burst, no further
  const statuses: number[] = [];
  for (let i = 0; i < 7; i += 1) statuses.push((await retrieve(page)).status);
  expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 429]);
});

test('a request is counted when it arrives: 9 requests a third of a second apart, held and answered together, are not a burst', async () => {
  const page = await startWithClock();
  const hold = fake.hold(() => true);
  const arrived = (n: number) =>
    new Promise<void>((resolve) => {
      const poll = () => (hold.held() === n ? resolve() : setImmediate(poll));
      poll();
    });
  const pending: Promise<Response>[] = [];
  for (let i = 1; i <= 9; i += 1) {
    pending.push(retrieve(page));
    await arrived(i);
    now += 1000 / 3;
  }
  hold.release();
  expect((await Promise.all(pending)).map((r) => r.status)).toEqual(Array(9).fill(200));
});

test('the product\'s shared limiter (notionRateLimiter, 3 a second) sends a burst of 18 requests to the strict fake and gets no 429', async () => {
  fake = await startFakeNotion({ token: TOKEN });
  const page = fake.addPage(makePage({ properties: { Name: titleProperty('Hi') } })).id;
  // No retries: a 429 fails the request, so a limiter faster than Notion fails this test
  // (18 is enough to catch one of 4 a second with the same burst).
  const client = createNotionClient({ token: TOKEN, baseUrl: fake.url }, { retry: false });
  await Promise.all(Array.from({ length: 18 }, () => client.pages.retrieve({ page_id: page })));
  expect(fake.requests.map((r) => r.status)).toEqual(Array(18).fill(200));
});
