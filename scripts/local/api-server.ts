import { AsyncLocalStorage } from 'node:async_hooks';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { log } from '../../lib/log';

/**
 * Serves the `api/` folder the way Vercel does, for the local stack and the end-to-end
 * tests: `/api/a/b` → `api/a/b.ts`, its exported `GET`/`POST`/... (Web-standard
 * Request → Response), vercel.json `rewrites` and `functions.maxDuration` honoured.
 * `waitUntil` and `getDeadline` from `@vercel/functions` work: this server provides the
 * request context they read, and keeps the process busy until the promises settle.
 */

export interface ApiServer {
  url: string;
  port: number;
  /** Resolves when every `waitUntil` promise started so far has settled. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

export interface ApiServerOptions {
  rootDir: string;
  port?: number;
  host?: string;
  /** Override every function's maxDuration (seconds), e.g. to test time budgets. */
  maxDurationSeconds?: number;
  /**
   * Handlers to serve instead of a route's file, by path (`{'/api/ses-events': {POST}}`):
   * tests use it to give a function dependencies of their own (an SNS certificate fetcher).
   */
  routes?: Record<string, Partial<Record<(typeof METHODS)[number], Handler>>>;
}

interface VercelJson {
  rewrites?: { source: string; destination: string }[];
  functions?: Record<string, { maxDuration?: number }>;
}

interface RequestContext {
  waitUntil(p: Promise<unknown>): void;
  deadline: number;
}

const SYMBOL_FOR_REQ_CONTEXT = Symbol.for('@vercel/request-context');
const storage = new AsyncLocalStorage<RequestContext>();
(globalThis as Record<symbol, unknown>)[SYMBOL_FOR_REQ_CONTEXT] = { get: () => storage.getStore() ?? {} };

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;
export type Handler = (request: Request) => Promise<Response> | Response;

function readVercelJson(rootDir: string): VercelJson {
  const file = path.join(rootDir, 'vercel.json');
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as VercelJson) : {};
}

/** Vercel's path patterns: `/api/:slug*`-style params are rare here; exact and `:name` segments suffice. */
function rewrite(pathname: string, rewrites: VercelJson['rewrites'] = []): string {
  for (const r of rewrites) {
    const names: string[] = [];
    const re = new RegExp(
      '^' +
        r.source.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/:(\w+)(\*)?/g, (_m, name: string, star?: string) => {
          names.push(name);
          return star ? '(.*)' : '([^/]+)';
        }) +
        '$',
    );
    const m = re.exec(pathname);
    if (m) return names.reduce((dest, name, i) => dest.replace(`:${name}`, m[i + 1] ?? ''), r.destination);
  }
  return pathname;
}

function resolveFunctionFile(rootDir: string, pathname: string): string | null {
  if (!pathname.startsWith('/api/')) return null;
  const rel = pathname.replace(/\/+$/, '').slice(1);
  if (rel.split('/').some((seg) => seg === '..' || seg.startsWith('.') || seg === '')) return null;
  for (const candidate of [`${rel}.ts`, `${rel}/index.ts`]) {
    const file = path.join(rootDir, candidate);
    if (fs.existsSync(file)) return file;
  }
  return null;
}

async function readBody(req: http.IncomingMessage, limit = 10 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw Object.assign(new Error('body too large'), { status: 413 });
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function toRequest(req: http.IncomingMessage, body: Buffer, base: string): Request {
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    for (const value of Array.isArray(v) ? v : [v]) headers.append(k, value);
  }
  const method = req.method ?? 'GET';
  return new Request(new URL(req.url ?? '/', base), {
    method,
    headers,
    body: method === 'GET' || method === 'HEAD' || body.length === 0 ? undefined : new Uint8Array(body),
  });
}

/** Vercel's limit on a function's buffered (not streamed) response body. */
export const MAX_BUFFERED_RESPONSE_BYTES = 4.5 * 1024 * 1024;

/** What Vercel answers instead of a buffered body over the limit (its error page, by code). */
function payloadTooLarge(res: http.ServerResponse): void {
  res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8', 'x-vercel-error': 'FUNCTION_RESPONSE_PAYLOAD_TOO_LARGE' });
  res.end('A server error has occurred\n\nFUNCTION_RESPONSE_PAYLOAD_TOO_LARGE\n');
}

/** Resolves when the socket takes more data, or is gone. */
function drainedOrClosed(res: http.ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * Write a handler's Response as Vercel does: a body given whole (a string or buffer arrives
 * as one piece) is refused over 4.5 MB; a streamed body goes out piece by piece as the
 * handler makes it, at the pace the client reads, with no limit.
 */
async function writeResponse(res: http.ServerResponse, response: Response): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, key) => {
    headers[key] = value;
  });
  const reader = response.body?.getReader();
  if (!reader) {
    res.writeHead(response.status, headers);
    return void res.end();
  }
  const pieces = [await reader.read()];
  if (pieces[0]!.value && pieces[0]!.value.byteLength > MAX_BUFFERED_RESPONSE_BYTES) {
    pieces.push(await reader.read());
    if (pieces[1]!.done) {
      log.error('local_server.response_too_large', { bytes: pieces[0]!.value.byteLength, limit: MAX_BUFFERED_RESPONSE_BYTES });
      return payloadTooLarge(res);
    }
  }
  res.writeHead(response.status, headers);
  for (let next = pieces.shift()!; !next.done; next = pieces.shift() ?? (await reader.read())) {
    if (!res.write(next.value)) await drainedOrClosed(res);
    // The client went away: stop making the body (a streamed report stops reading pages).
    if (res.destroyed) return void (await reader.cancel());
  }
  res.end();
}

export async function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  const rootDir = path.resolve(opts.rootDir);
  const pending = new Set<Promise<unknown>>();
  const modules = new Map<string, Record<string, unknown>>();

  async function loadModule(file: string): Promise<Record<string, unknown>> {
    let mod = modules.get(file);
    if (!mod) {
      mod = (await import(file)) as Record<string, unknown>;
      modules.set(file, mod);
    }
    return mod;
  }

  const server = http.createServer((req, res) => {
    void (async () => {
      const started = Date.now();
      const base = `http://${req.headers.host ?? 'localhost'}`;
      const vercel = readVercelJson(rootDir);
      const url = new URL(req.url ?? '/', base);
      const target = rewrite(url.pathname, vercel.rewrites);
      const override = opts.routes?.[target.replace(/\/+$/, '')];
      const file = resolveFunctionFile(rootDir, target);
      if (!file) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'not_found', message: `No function serves ${url.pathname}` }));
        return;
      }
      const method = (req.method ?? 'GET').toUpperCase() as (typeof METHODS)[number];
      const mod = override ? { ...(await loadModule(file)), ...override } : await loadModule(file);
      const handler = (mod[method] ?? (typeof mod.default === 'function' ? mod.default : undefined)) as Handler | undefined;
      if (!handler) {
        // As Vercel's Node runtime answers a method the module does not export: a bare 405.
        res.writeHead(405);
        res.end();
        return;
      }
      const relFile = path.relative(rootDir, file).split(path.sep).join('/');
      const maxDuration = opts.maxDurationSeconds ?? vercel.functions?.[relFile]?.maxDuration ?? 300;
      const context: RequestContext = {
        deadline: started + maxDuration * 1000,
        waitUntil(p: Promise<unknown>) {
          const tracked = p.catch((err: unknown) => log.error('waitUntil.failed', { path: url.pathname, error: err }));
          pending.add(tracked);
          void tracked.finally(() => pending.delete(tracked));
        },
      };
      const body = await readBody(req);
      const request = toRequest(req, body, base);
      const response = await storage.run(context, () => Promise.resolve(handler(request)));
      await writeResponse(res, response);
    })().catch((err: unknown) => {
      log.error('local_server.failed', { path: req.url, error: err });
      if (!res.headersSent) {
        const status = (err as { status?: number }).status ?? 500;
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: status === 413 ? 'too_large' : 'internal', message: 'The request failed.' }));
        // A body that broke midway is cut off, so the client sees a failed transfer, not a short file.
      } else res.destroy();
    });
  });

  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    port,
    async idle() {
      while (pending.size) await Promise.allSettled([...pending]);
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      while (pending.size) await Promise.allSettled([...pending]);
    },
  };
}
