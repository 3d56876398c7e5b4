import { createNotionClient, notionRateLimiter, parseNotionPageId, TokenBucket, withNotionRate } from '../../lib/notion/client';
import { isAppError } from '../../lib/errors';
import { makePage, startFakeNotion, titleProperty, type FakeNotion } from '../../scripts/fakes/notion';
import { TOKEN } from './helpers';

describe('parseNotionPageId', () => {
  const id = '1429989fe8ac4effbc8f57f56486db54';
  const dashed = '1429989f-e8ac-4eff-bc8f-57f56486db54';

  it.each([
    [id],
    [dashed],
    [dashed.toUpperCase()],
    [`https://www.notion.so/${id}`],
    [`https://www.notion.so/acme/Ноябрьский-выпуск-${id}`],
    [`https://www.notion.so/acme/November-issue-${id}?pvs=4`],
    [`https://acme.notion.site/November-${id}`],
    [`https://www.notion.so/acme/0123456789abcdef0123456789abcdef?v=fedcba9876543210fedcba9876543210&p=${id}&pm=s`],
    [`  ${id}\n`],
  ])('accepts %s', (input) => {
    expect(parseNotionPageId(input)).toBe(dashed);
  });

  it.each([[''], ['not-an-id'], ['1429989fe8ac4effbc8f57f56486db5'], [`https://evil.example.com/${id}`], ['javascript:alert(1)'], [`https://www.notion.so/acme/Title`]])(
    'refuses %j with bad_request',
    (input) => {
      let err: unknown;
      try {
        parseNotionPageId(input);
      } catch (e) {
        err = e;
      }
      expect(isAppError(err, 'bad_request')).toBe(true);
    },
  );
});

describe('createNotionClient', () => {
  let fake: FakeNotion;
  beforeEach(async () => {
    fake = await startFakeNotion({ token: TOKEN });
  });
  afterEach(async () => {
    await fake.close();
  });

  it('honours NOTION_BASE_URL and sends the token', async () => {
    const page = fake.addPage(makePage({ properties: { Name: titleProperty('Hi') } }));
    const client = createNotionClient({ notion: { token: TOKEN, baseUrl: fake.url } });
    const got = (await client.pages.retrieve({ page_id: page.id })) as { id: string };
    expect(got.id).toBe(page.id);
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]!.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('retries 429 after retry-after and 5xx on reads, as the client allows', async () => {
    const page = fake.addPage(makePage({ properties: { Name: titleProperty('Hi') } }));
    fake.failNext({ path: `/v1/pages/${page.id}`, status: 429, retryAfter: 0, times: 2 });
    fake.failNext({ path: `/v1/pages/${page.id}`, status: 503, times: 1 });
    fake.failNext({ path: `/v1/pages/${page.id}`, status: 502, times: 1 });
    const seen: string[] = [];
    const client = createNotionClient(
      { token: TOKEN, baseUrl: fake.url },
      { retry: { maxRetries: 4, initialRetryDelayMs: 1, maxRetryDelayMs: 10 }, onRequest: (m, u) => seen.push(`${m} ${u}`) },
    );
    await client.pages.retrieve({ page_id: page.id });
    expect(fake.requests.map((r) => r.status)).toEqual([429, 429, 503, 502, 200]);
    expect(seen).toHaveLength(5);
  });

  it('does not retry a POST that failed with a 500 (it may have happened)', async () => {
    const { dataSourceId } = fake.addDatabase({ title: 'Errors', properties: {} });
    fake.failNext({ method: 'POST', path: '/v1/pages', status: 500, times: 1 });
    const client = createNotionClient({ token: TOKEN, baseUrl: fake.url }, { retry: { maxRetries: 3, initialRetryDelayMs: 1 } });
    await expect(
      client.pages.create({ parent: { data_source_id: dataSourceId }, properties: { Email: { title: [{ text: { content: 'a@b.c' } }] } } }),
    ).rejects.toMatchObject({ status: 500 });
    expect(fake.calls('/v1/pages', 'POST')).toHaveLength(1);
  });

  it('refuses to build a client without a token', () => {
    expect(() => createNotionClient({ token: undefined })).toThrow(/NOTION_TOKEN/);
  });

  it('paces every request, retries included, through the shared limiter', async () => {
    const page = fake.addPage(makePage({ properties: { Name: titleProperty('Hi') } }));
    fake.failNext({ path: `/v1/pages/${page.id}`, status: 429, retryAfter: 0, times: 1 });
    // Every token the client takes is counted: each request, the retry included, must take one.
    const take = jest.spyOn(notionRateLimiter, 'take');
    const client = createNotionClient({ token: TOKEN, baseUrl: fake.url }, { retry: { maxRetries: 2, initialRetryDelayMs: 1 } });
    const started = Date.now();
    try {
      await Promise.all([client.pages.retrieve({ page_id: page.id }), client.pages.retrieve({ page_id: page.id }), client.pages.retrieve({ page_id: page.id })]);
      expect(fake.requests).toHaveLength(4);
      expect(take).toHaveBeenCalledTimes(4);
      // 4 tokens from a bucket of 3 a second that holds at most 3: at least a third of a
      // second (a busy machine only makes it longer; arrival gaps are not asserted).
      expect(Date.now() - started).toBeGreaterThanOrEqual(320);
    } finally {
      take.mockRestore();
    }
  });
});

describe('the shared limiter', () => {
  it('is a 3 requests/second token bucket that withNotionRate draws from', async () => {
    expect(notionRateLimiter.ratePerSec).toBe(3);
    expect(notionRateLimiter.burst).toBe(3);
    const limiter = new TokenBucket({ ratePerSec: 50, burst: 2 });
    const order: number[] = [];
    await Promise.all([1, 2, 3, 4].map((n) => withNotionRate(async () => order.push(n), limiter)));
    expect(order).toEqual([1, 2, 3, 4]);
  });
});
