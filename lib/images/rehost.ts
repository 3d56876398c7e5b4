import { createHash } from 'node:crypto';
import type { Config } from '../config';
import { AppError } from '../errors';
import { log } from '../log';
import { findNotionHostedUrls } from './hosts';
import type { ImageSize } from '../letter/types';
import { IMAGE_HEADER_BYTES, readImageSize } from './size';

/**
 * Re-hosting of images uploaded to Notion. Notion's file URLs are signed for one hour, so
 * every such URL in a mailout is replaced by a permanent public URL in Supabase Storage
 * before anything is rendered: the file is downloaded, named by the SHA-256 of its bytes
 * (so the same image is stored once and reused by every later send), uploaded unless that
 * name already exists, and linked by its public URL. Without storage configured, a page
 * with such images is refused with a message that says what to do.
 */

export interface ImageStorage {
  /** The permanent public URL of an object. */
  publicUrl(key: string): string;
  exists(key: string): Promise<boolean>;
  put(key: string, bytes: Uint8Array, contentType: string): Promise<void>;
}

type FetchLike = typeof fetch;

/** Supabase Storage over its HTTP API (a public bucket; the service-role key uploads). */
export function createSupabaseStorage(options: { url: string; serviceRoleKey: string; bucket: string; fetch?: FetchLike }): ImageStorage {
  const base = options.url.replace(/\/+$/, '');
  const bucket = encodeURIComponent(options.bucket);
  const doFetch = options.fetch ?? fetch;
  const path = (key: string) => key.split('/').map(encodeURIComponent).join('/');
  const auth = { authorization: `Bearer ${options.serviceRoleKey}`, apikey: options.serviceRoleKey };
  return {
    publicUrl: (key) => `${base}/storage/v1/object/public/${bucket}/${path(key)}`,
    async exists(key) {
      const res = await doFetch(`${base}/storage/v1/object/public/${bucket}/${path(key)}`, { method: 'HEAD' });
      return res.ok;
    },
    async put(key, bytes, contentType) {
      const res = await doFetch(`${base}/storage/v1/object/${bucket}/${path(key)}`, {
        method: 'POST',
        headers: { ...auth, 'content-type': contentType, 'cache-control': 'max-age=31536000', 'x-upsert': 'false' },
        body: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) as unknown as BodyInit,
      });
      if (res.ok) return;
      const body = await res.text().catch(() => '');
      // Another send uploaded the same bytes first: content-addressed, so that is success.
      if (res.status === 409 || /Duplicate|already exists/i.test(body)) return;
      if (/bucket not found/i.test(body) || (res.status === 404 && /bucket/i.test(body))) {
        throw new AppError('config', `The storage bucket "${options.bucket}" does not exist: create it in Supabase (Storage → New bucket, public).`);
      }
      if (res.status === 401 || res.status === 403) {
        throw new AppError('config', 'Supabase Storage refused the upload: check SUPABASE_SERVICE_ROLE_KEY.');
      }
      throw new AppError('upstream', `Uploading an image to Supabase Storage failed (HTTP ${res.status}).`);
    },
  };
}

/** The configured storage, or undefined unless the database is Supabase and SUPABASE_STORAGE_BUCKET is set. */
export function imageStorageFromConfig(config: Pick<Config, 'db' | 'storageBucket'>, fetchImpl?: FetchLike): ImageStorage | undefined {
  if (config.db.kind !== 'supabase' || !config.storageBucket) return undefined;
  const { url, serviceRoleKey } = config.db;
  return createSupabaseStorage({ url, serviceRoleKey, bucket: config.storageBucket, ...(fetchImpl ? { fetch: fetchImpl } : {}) });
}

const EXTENSIONS: Record<string, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/jpg': 'jpg',
  'image/gif': 'gif',
  'image/webp': 'webp',
  'image/svg+xml': 'svg',
  'image/avif': 'avif',
  'image/heic': 'heic',
  'image/bmp': 'bmp',
};

function extensionFor(contentType: string, url: string): { ext: string; type: string } {
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  if (EXTENSIONS[type]) return { ext: EXTENSIONS[type]!, type };
  const fromPath = /\.([a-z0-9]{2,5})$/i.exec(new URL(url).pathname)?.[1]?.toLowerCase();
  const byExt = Object.entries(EXTENSIONS).find(([, e]) => e === (fromPath === 'jpeg' ? 'jpg' : fromPath));
  return byExt ? { ext: byExt[1], type: byExt[0] } : { ext: 'bin', type: 'application/octet-stream' };
}

/** Notion-file URL without its signature: the same file across reads of the page. */
function stableKey(url: string): string {
  try {
    const u = new URL(url);
    return `${u.host}${u.pathname}`;
  } catch {
    return url;
  }
}

// Within a warm process, a file already re-hosted is not downloaded again.
const rehostedCache = new Map<string, { url: string; size: ImageSize | null }>();

export interface RehostOptions {
  storage?: ImageStorage;
  /** `type: "file"` URLs found by the reader, recognised whatever their host. */
  notionFileUrls?: string[];
  fetch?: FetchLike;
  /** Largest image accepted, bytes (default 10 MB). */
  maxBytes?: number;
}

export interface RehostResult {
  markdown: string;
  rehosted: Array<{ from: string; to: string; uploaded: boolean }>;
  /** The pixel size of each re-hosted file (by its public URL), read from the bytes. */
  sizes: Record<string, ImageSize>;
}

export async function rehostImages(markdown: string, options: RehostOptions = {}): Promise<RehostResult> {
  const urls = findNotionHostedUrls(markdown, options.notionFileUrls ?? []);
  if (urls.length === 0) return { markdown, rehosted: [], sizes: {} };
  if (!options.storage) {
    throw new AppError(
      'unprocessable',
      `This page has ${urls.length} image(s) uploaded to Notion, and Notion's links to them expire within an hour, so they cannot go into an email. ` +
        'Set SUPABASE_URL/SUPABASE_SERVICE_ROLE_KEY and SUPABASE_STORAGE_BUCKET (a public bucket) so that they are re-hosted, or use external image URLs (in Notion: Image → Embed link).',
      { details: { images: urls.length } },
    );
  }
  const storage = options.storage;
  const doFetch = options.fetch ?? fetch;
  const maxBytes = options.maxBytes ?? 10 * 1024 * 1024;
  const rehosted: RehostResult['rehosted'] = [];
  const sizes: RehostResult['sizes'] = {};
  let out = markdown;
  for (const url of urls) {
    const cached = rehostedCache.get(stableKey(url));
    if (cached) {
      out = out.split(url).join(cached.url);
      rehosted.push({ from: url, to: cached.url, uploaded: false });
      if (cached.size) sizes[cached.url] = cached.size;
      continue;
    }
    let res: Response;
    try {
      res = await doFetch(url);
    } catch (err) {
      throw new AppError('upstream', `Could not download an image from Notion (${(err as Error).message}); try again.`, { cause: err });
    }
    if (!res.ok) {
      throw new AppError(
        'upstream',
        `Could not download an image from Notion (HTTP ${res.status}); its link may have expired: run the send again so the page is read afresh.`,
      );
    }
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (bytes.byteLength > maxBytes) {
      throw new AppError('unprocessable', `An image on the page is ${(bytes.byteLength / 1e6).toFixed(1)} MB; images in emails must be under ${(maxBytes / 1e6).toFixed(0)} MB.`);
    }
    const { ext, type } = extensionFor(res.headers.get('content-type') ?? '', url);
    const key = `mailout-images/${createHash('sha256').update(bytes).digest('hex')}.${ext}`;
    const exists = await storage.exists(key);
    if (!exists) await storage.put(key, bytes, type);
    const publicUrl = storage.publicUrl(key);
    const size = readImageSize(bytes);
    rehostedCache.set(stableKey(url), { url: publicUrl, size });
    if (size) sizes[publicUrl] = size;
    out = out.split(url).join(publicUrl);
    rehosted.push({ from: url, to: publicUrl, uploaded: !exists });
  }
  log.info('images.rehosted', { images: rehosted.length, uploaded: rehosted.filter((r) => r.uploaded).length });
  return { markdown: out, rehosted, sizes };
}

// Sizes of external images already read within this warm process.
const probedSizes = new Map<string, ImageSize>();

/**
 * The pixel sizes of images the letter links to (not re-hosted), read from the first bytes
 * of each file (a `Range` request). An image that cannot be read is left out: the letter
 * then shows it without a `width` attribute, and the caller says so in a warning.
 */
export async function probeImageSizes(
  urls: string[],
  options: { fetch?: FetchLike; timeoutMs?: number; concurrency?: number } = {},
): Promise<Record<string, ImageSize>> {
  const doFetch = options.fetch ?? fetch;
  const out: Record<string, ImageSize> = {};
  const queue = [...new Set(urls)];
  const probe = async (url: string): Promise<void> => {
    const known = probedSizes.get(url);
    if (known) {
      out[url] = known;
      return;
    }
    try {
      const res = await doFetch(url, {
        headers: { range: `bytes=0-${IMAGE_HEADER_BYTES - 1}` },
        signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
      });
      if (!res.ok) return;
      const size = readImageSize(await firstBytes(res, IMAGE_HEADER_BYTES));
      if (size) {
        probedSizes.set(url, size);
        out[url] = size;
      }
    } catch (err) {
      log.info('images.probe_failed', { error: (err as Error).message });
    }
  };
  const workers = Array.from({ length: Math.min(options.concurrency ?? 4, queue.length) }, async () => {
    for (let url = queue.shift(); url !== undefined; url = queue.shift()) await probe(url);
  });
  await Promise.all(workers);
  return out;
}

/** At most `limit` bytes of a body (a server may ignore `Range` and send the whole file). */
async function firstBytes(res: Response, limit: number): Promise<Uint8Array> {
  if (!res.body) return new Uint8Array(await res.arrayBuffer()).subarray(0, limit);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (size < limit) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
  }
  await reader.cancel().catch(() => undefined);
  return Buffer.concat(chunks).subarray(0, limit);
}

/** Forget the in-process cache (tests). */
export function clearRehostCache(): void {
  rehostedCache.clear();
  probedSizes.clear();
}
