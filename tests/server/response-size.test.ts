import path from 'node:path';
import { MAX_BUFFERED_RESPONSE_BYTES, startApiServer, type ApiServer } from '../../scripts/local/api-server';

/**
 * The local server answers as Vercel does about size: a function's buffered response body
 * over 4.5 MB is refused with a 500 FUNCTION_RESPONSE_PAYLOAD_TOO_LARGE
 * (vercel.com/docs/errors/FUNCTION_RESPONSE_PAYLOAD_TOO_LARGE); a streamed body is exempt
 * and goes out whole, as the handler makes it.
 */
const MB = 1024 * 1024;
let api: ApiServer;
let body: () => BodyInit;

beforeAll(async () => {
  api = await startApiServer({
    rootDir: path.resolve(__dirname, '../..'),
    port: 0,
    routes: { '/api/health': { GET: () => new Response(body(), { headers: { 'content-type': 'text/plain' } }) } },
  });
});
afterAll(async () => {
  await api.close();
});

/** A body of `bytes` bytes handed over in pieces of 64 KiB, as a streaming handler writes it. */
function streamed(bytes: number): ReadableStream<Uint8Array> {
  let left = bytes;
  return new ReadableStream({
    pull(controller) {
      if (left === 0) return controller.close();
      const n = Math.min(left, 64 * 1024);
      left -= n;
      controller.enqueue(new Uint8Array(n).fill(0x61));
    },
  });
}

test('a buffered body over 4.5 MB is refused: 500 FUNCTION_RESPONSE_PAYLOAD_TOO_LARGE, as on Vercel', async () => {
  expect(MAX_BUFFERED_RESPONSE_BYTES).toBe(4.5 * MB);
  body = () => 'a'.repeat(MAX_BUFFERED_RESPONSE_BYTES + 1);
  const res = await fetch(`${api.url}/api/health`);
  expect(res.status).toBe(500);
  expect(res.headers.get('x-vercel-error')).toBe('FUNCTION_RESPONSE_PAYLOAD_TOO_LARGE');
  expect(await res.text()).toContain('FUNCTION_RESPONSE_PAYLOAD_TOO_LARGE');
});

test('a buffered body of 4.5 MB goes out whole', async () => {
  body = () => 'a'.repeat(MAX_BUFFERED_RESPONSE_BYTES);
  const res = await fetch(`${api.url}/api/health`);
  expect(res.status).toBe(200);
  expect((await res.arrayBuffer()).byteLength).toBe(MAX_BUFFERED_RESPONSE_BYTES);
});

test('a streamed body has no size limit: 12 MB arrive whole', async () => {
  body = () => streamed(12 * MB);
  const res = await fetch(`${api.url}/api/health`);
  expect(res.status).toBe(200);
  expect((await res.arrayBuffer()).byteLength).toBe(12 * MB);
});

test('a stream that breaks midway cuts the connection: the client sees a failed transfer, not a short body', async () => {
  let sent = 0;
  body = () =>
    new ReadableStream({
      pull(controller) {
        if (sent++ === 3) return controller.error(new Error('the database went away'));
        controller.enqueue(new Uint8Array(1024).fill(0x61));
      },
    });
  const outcome = await fetch(`${api.url}/api/health`)
    .then((res) => res.arrayBuffer())
    .then(
      (b) => `a whole body of ${b.byteLength} bytes`,
      () => 'a failed transfer',
    );
  expect(outcome).toBe('a failed transfer');
});
