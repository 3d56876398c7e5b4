/**
 * A fake Supabase Storage (the HTTP API the re-hosting uses) and a fake file host standing
 * in for Notion's S3 bucket, on one real local HTTP server.
 *
 *   POST /storage/v1/object/:bucket/:key          upload (service key required); existing → 400 Duplicate, as Supabase answers
 *   HEAD|GET /storage/v1/object/public/:bucket/:key  the object, or 400 {"statusCode":"404","error":"not_found"}
 *   GET  /files/<anything>                        bytes registered with `serveFile`
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { deflateSync } from 'node:zlib';

export interface FakeStorage {
  url: string;
  objects: Map<string, { bytes: Buffer; contentType: string }>;
  uploads: Array<{ bucket: string; key: string; contentType: string; size: number; authorization?: string }>;
  heads: string[];
  fileRequests: string[];
  serveFile(path: string, bytes: Buffer, contentType: string): string;
  close(): Promise<void>;
}

export async function startFakeStorage(options: { serviceKey: string; bucket: string }): Promise<FakeStorage> {
  const objects = new Map<string, { bytes: Buffer; contentType: string }>();
  const files = new Map<string, { bytes: Buffer; contentType: string }>();
  const uploads: FakeStorage['uploads'] = [];
  const heads: string[] = [];
  const fileRequests: string[] = [];

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const path = decodeURIComponent(url.pathname);
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(req.method === 'HEAD' ? undefined : JSON.stringify(body));
      };
      let m: RegExpExecArray | null;
      if (req.method === 'POST' && (m = /^\/storage\/v1\/object\/([^/]+)\/(.+)$/.exec(path)) && m[1] !== 'public') {
        if (req.headers.authorization !== `Bearer ${options.serviceKey}`) return json(400, { statusCode: '403', error: 'Unauthorized', message: 'invalid signature' });
        if (m[1] !== options.bucket) return json(400, { statusCode: '404', error: 'Bucket not found', message: 'Bucket not found' });
        const key = m[2]!;
        if (objects.has(key)) return json(400, { statusCode: '409', error: 'Duplicate', message: 'The resource already exists' });
        const bytes = Buffer.concat(chunks);
        const contentType = String(req.headers['content-type'] ?? 'application/octet-stream');
        objects.set(key, { bytes, contentType });
        uploads.push({ bucket: m[1]!, key, contentType, size: bytes.length, authorization: req.headers.authorization });
        return json(200, { Key: `${m[1]}/${key}`, Id: `id-${uploads.length}` });
      }
      if ((req.method === 'HEAD' || req.method === 'GET') && (m = /^\/storage\/v1\/object\/public\/([^/]+)\/(.+)$/.exec(path))) {
        if (req.method === 'HEAD') heads.push(m[2]!);
        const obj = m[1] === options.bucket ? objects.get(m[2]!) : undefined;
        if (!obj) return json(400, { statusCode: '404', error: 'not_found', message: 'Object not found' });
        res.writeHead(200, { 'content-type': obj.contentType, 'content-length': String(obj.bytes.length) });
        return res.end(req.method === 'HEAD' ? undefined : obj.bytes);
      }
      if (req.method === 'GET' && path.startsWith('/files/')) {
        fileRequests.push(url.pathname + url.search);
        const f = files.get(url.pathname);
        if (!f) {
          res.writeHead(403, { 'content-type': 'application/xml' });
          return res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>');
        }
        res.writeHead(200, { 'content-type': f.contentType, 'content-length': String(f.bytes.length) });
        return res.end(f.bytes);
      }
      json(400, { statusCode: '400', error: 'invalid', message: `no route ${req.method} ${path}` });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;
  return {
    url: base,
    objects,
    uploads,
    heads,
    fileRequests,
    serveFile(path, bytes, contentType) {
      files.set(path, { bytes, contentType });
      return `${base}${path}`;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/**
 * A fetch that sends requests for Notion's S3 host to the local fake file host (same path
 * and query), serves local addresses, and answers 404 for any other host: a test never
 * depends on whether the machine reaches the internet.
 */
export function redirectingFetch(fileHostBase: string): typeof fetch {
  return (input, init) => {
    const url = new URL(String(input instanceof Request ? input.url : input));
    if (url.hostname === 'prod-files-secure.s3.us-west-2.amazonaws.com') {
      return fetch(`${fileHostBase}/files${url.pathname}${url.search}`, init);
    }
    if (url.hostname === '127.0.0.1' || url.hostname === 'localhost') return fetch(input, init);
    return Promise.resolve(new Response('offline in tests', { status: 404 }));
  };
}

function crc32(bytes: Buffer): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

/** A real PNG of one colour and the given size (a browser shows it). */
export function solidPng(width: number, height: number, rgb: [number, number, number] = [47, 111, 94]): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(8 + data.length + 4);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: width }, () => rgb).flat())]);
  const raw = Buffer.concat(Array.from({ length: height }, () => row));
  return Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

/** A 1×1 PNG. */
export const PNG_1x1 = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);
