import { createHash } from 'node:crypto';
import { clearRehostCache, createSupabaseStorage, isNotionHostedUrl, rehostImages } from '../../lib/images';
import { isAppError } from '../../lib/errors';
import { EXTERNAL_IMAGE_URL, NOTION_FILE_URL } from './fixtures';
import { PNG_1x1, redirectingFetch, startFakeStorage, type FakeStorage } from './fake-storage';

const KEY = 'service-role-key-for-tests';
let storage: FakeStorage;

beforeEach(async () => {
  storage = await startFakeStorage({ serviceKey: KEY, bucket: 'public-images' });
  clearRehostCache();
});
afterEach(async () => {
  await storage.close();
});

const photoPath = '/files/7b8b0713-dbd4-4962-b38b-955b6c49a573/b2a2e4b4-1d9e-4c1f-9d0b-2c8f0c7d9e11/photo.png';

function store() {
  return createSupabaseStorage({ url: storage.url, serviceRoleKey: KEY, bucket: 'public-images' });
}

describe('isNotionHostedUrl', () => {
  it.each([
    [NOTION_FILE_URL, true],
    ['https://s3.us-west-2.amazonaws.com/secure.notion-static.com/abc/photo.png?X-Amz-Signature=1', true],
    ['https://file.notion.so/f/f/abc/photo.png?expirationTimestamp=1', true],
    ['https://www.notion.so/image/https%3A%2F%2Fprod-files-secure.s3.us-west-2.amazonaws.com%2Fa.png', true],
    [EXTERNAL_IMAGE_URL, false],
    ['https://s3.us-west-2.amazonaws.com/my-own-bucket/photo.png', false],
    ['https://www.notion.so/3c612f56fdd04a30a4d6bda7d7426309', false],
  ])('%s → %s', (url, expected) => {
    expect(isNotionHostedUrl(url)).toBe(expected);
  });
});

describe('rehostImages', () => {
  const markdown = `Text\n\n![Фото](<${NOTION_FILE_URL}> "Фото")\n\n![Внешнее](<${EXTERNAL_IMAGE_URL}>)\n`;

  it('uploads a Notion-hosted image under its SHA-256 and links the public URL; external images stay', async () => {
    storage.serveFile(photoPath, PNG_1x1, 'image/png');
    const out = await rehostImages(markdown, { storage: store(), fetch: redirectingFetch(storage.url) });
    const sha = createHash('sha256').update(PNG_1x1).digest('hex');
    const publicUrl = `${storage.url}/storage/v1/object/public/public-images/mailout-images/${sha}.png`;
    expect(out.markdown).toContain(`![Фото](<${publicUrl}> "Фото")`);
    expect(out.markdown).toContain(EXTERNAL_IMAGE_URL);
    expect(out.markdown).not.toContain('prod-files-secure');
    expect(storage.uploads).toEqual([
      { bucket: 'public-images', key: `mailout-images/${sha}.png`, contentType: 'image/png', size: PNG_1x1.length, authorization: `Bearer ${KEY}` },
    ]);
    // The public URL really serves the image.
    const res = await fetch(publicUrl);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer())).toEqual(PNG_1x1);
  });

  it('reuses an image already stored by an earlier send (no second upload)', async () => {
    storage.serveFile(photoPath, PNG_1x1, 'image/png');
    await rehostImages(markdown, { storage: store(), fetch: redirectingFetch(storage.url) });
    clearRehostCache(); // a fresh process: only the storage remembers
    const resigned = NOTION_FILE_URL.replace('X-Amz-Signature=3f1e0c6b2a', 'X-Amz-Signature=99999');
    const again = await rehostImages(`![x](<${resigned}>)`, { storage: store(), fetch: redirectingFetch(storage.url) });
    expect(storage.uploads).toHaveLength(1);
    expect(again.rehosted[0]!.uploaded).toBe(false);
    expect(storage.heads).toHaveLength(2);
  });

  it('recognises files the reader marked as uploaded to Notion, whatever their host', async () => {
    const url = storage.serveFile('/files/elsewhere/pic.gif', Buffer.from('GIF89a'), 'image/gif');
    const out = await rehostImages(`![a](<${url}>)`, { storage: store(), notionFileUrls: [url] });
    expect(out.markdown).not.toContain(url);
    expect(out.markdown).toMatch(/mailout-images\/[0-9a-f]{64}\.gif/);
  });

  it('refuses, saying what to do, when no storage is configured', async () => {
    const err = await rehostImages(markdown, {}).catch((e: unknown) => e);
    expect(isAppError(err, 'unprocessable')).toBe(true);
    expect((err as Error).message).toContain('This page has 1 image(s) uploaded to Notion');
    expect((err as Error).message).toContain('SUPABASE_URL/SUPABASE_SERVICE_ROLE_KEY and SUPABASE_STORAGE_BUCKET');
    expect((err as Error).message).toContain('use external image URLs');
  });

  it('needs no storage when every image is external', async () => {
    const md = `![x](<${EXTERNAL_IMAGE_URL}>)`;
    await expect(rehostImages(md, {})).resolves.toEqual({ markdown: md, rehosted: [], sizes: {} });
  });

  it('reports an expired Notion link as an upstream failure', async () => {
    const err = await rehostImages(markdown, { storage: store(), fetch: redirectingFetch(storage.url) }).catch((e: unknown) => e);
    expect(isAppError(err, 'upstream')).toBe(true);
    expect((err as Error).message).toMatch(/HTTP 403/);
  });

  it('names a missing bucket as a configuration problem', async () => {
    storage.serveFile(photoPath, PNG_1x1, 'image/png');
    const wrong = createSupabaseStorage({ url: storage.url, serviceRoleKey: KEY, bucket: 'nope' });
    const err = await rehostImages(markdown, { storage: wrong, fetch: redirectingFetch(storage.url) }).catch((e: unknown) => e);
    expect(isAppError(err, 'config')).toBe(true);
    expect((err as Error).message).toContain('The storage bucket "nope" does not exist');
  });
});
