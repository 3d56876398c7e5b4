'use strict';
/**
 * Serves ONE built Vercel function (a `.vercel/output/functions/**.func` folder) over HTTP the
 * way Vercel's Node.js runtime calls it, for the deploy test. Plain CommonJS with nothing but
 * node: built-ins, so it runs on any Node binary and is copied next to the functions, outside
 * the repository: the function resolves its modules from its own folder only.
 *
 *   node harness.cjs <path/to/name.func>      (forked with an IPC channel)
 *
 * What it mimics (`.vc-config.json` `launcherType: "Nodejs"`, as @vercel/node's serverless
 * handler does it): the entry named by `handler` is loaded (require() for CommonJS, import()
 * for ESM); its Web-standard method exports (GET, POST, ...) or `default.fetch` answer
 * `Request` -> `Response`, a method without an export is a 405; the request context under
 * Symbol.for('@vercel/request-context') gives `waitUntil` and the `deadline`
 * (maxDuration), which `@vercel/functions` reads; a buffered response body over 4.5 MB is
 * Vercel's 500 FUNCTION_RESPONSE_PAYLOAD_TOO_LARGE, a streamed one is passed through.
 *
 * IPC: sends {type:'ready', port, loadMs} once listening; answers {type:'idle'} to
 * {type:'idle', waited} when every waitUntil promise so far has settled (waited: there were some).
 *
 * The one seam: HARNESS_FETCH_STUBS names a JSON file {url: body} of exact URLs whose
 * `fetch` is answered locally (the SNS signing certificate, as in the local tests).
 */
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { Readable } = require('node:stream');
const { AsyncLocalStorage } = require('node:async_hooks');
const { pathToFileURL } = require('node:url');

const MAX_BUFFERED_BYTES = 4.5 * 1024 * 1024;
const METHODS = ['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'DELETE', 'PATCH'];
const funcDir = path.resolve(process.argv[2]);
const vc = JSON.parse(fs.readFileSync(path.join(funcDir, '.vc-config.json'), 'utf8'));
const pending = new Set();
const storage = new AsyncLocalStorage();

Object.defineProperty(globalThis, Symbol.for('@vercel/request-context'), {
  configurable: true,
  enumerable: false,
  value: { get: () => storage.getStore() || {} },
});

if (process.env.HARNESS_FETCH_STUBS) {
  const stubs = JSON.parse(fs.readFileSync(process.env.HARNESS_FETCH_STUBS, 'utf8'));
  const realFetch = globalThis.fetch;
  globalThis.fetch = async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (Object.prototype.hasOwnProperty.call(stubs, url)) return new Response(stubs[url], { status: 200 });
    return realFetch(input, init);
  };
}

function isEsm(entry) {
  if (entry.endsWith('.mjs')) return true;
  if (!entry.endsWith('.js')) return false;
  const pkg = path.join(funcDir, 'package.json');
  return fs.existsSync(pkg) && JSON.parse(fs.readFileSync(pkg, 'utf8')).type === 'module';
}

async function loadHandlers() {
  const entry = path.join(funcDir, vc.handler);
  let mod = isEsm(entry) ? await import(pathToFileURL(entry).href) : require(entry);
  for (let i = 0; i < 5 && mod.default && !METHODS.some((m) => typeof mod[m] === 'function'); i++) mod = mod.default;
  if (typeof mod.fetch === 'function') return Object.fromEntries(METHODS.map((m) => [m, mod.fetch]));
  const handlers = Object.fromEntries(METHODS.filter((m) => typeof mod[m] === 'function').map((m) => [m, mod[m]]));
  if (!Object.keys(handlers).length) throw new Error(`${vc.handler} exports no Web handler (GET, POST, ... or fetch)`);
  return handlers;
}

function toRequest(req) {
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) for (const value of [].concat(v)) headers.append(k, value);
  const method = req.method || 'GET';
  const hasBody = method !== 'GET' && method !== 'HEAD';
  return new Request(new URL(req.url || '/', `http://${req.headers.host || 'localhost'}`), {
    method,
    headers,
    body: hasBody ? Readable.toWeb(req) : undefined,
    duplex: 'half',
  });
}

/** Resolves once the socket takes more, or is gone. */
function writable(res) {
  return new Promise((resolve) => {
    const settle = () => {
      res.off('drain', settle);
      res.off('close', settle);
      resolve();
    };
    res.on('drain', settle).on('close', settle);
  });
}

async function writeResponse(res, response) {
  const headers = {};
  response.headers.forEach((value, key) => {
    if (key !== 'set-cookie') headers[key] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length) headers['set-cookie'] = cookies;
  if (!response.body) {
    res.writeHead(response.status, headers);
    return void res.end();
  }
  // Vercel refuses a body given whole (a string or buffer arrives as one piece) over 4.5 MB;
  // a streamed body goes out as the function makes it, at the pace the client reads.
  const reader = response.body.getReader();
  const pieces = [await reader.read()];
  if (pieces[0].value && pieces[0].value.byteLength > MAX_BUFFERED_BYTES && (pieces.push(await reader.read()), pieces[1].done)) {
    res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8', 'x-vercel-error': 'FUNCTION_RESPONSE_PAYLOAD_TOO_LARGE' });
    return void res.end('A server error has occurred\n\nFUNCTION_RESPONSE_PAYLOAD_TOO_LARGE\n');
  }
  res.writeHead(response.status, headers);
  for (let next = pieces.shift(); !next.done; next = pieces.shift() || (await reader.read())) {
    if (!res.write(next.value)) await writable(res);
    if (res.destroyed) return void (await reader.cancel());
  }
  res.end();
}

async function main() {
  const started = process.hrtime.bigint();
  const handlers = await loadHandlers();
  const maxDuration = Number(vc.maxDuration || 300);
  const server = http.createServer((req, res) => {
    const handler = handlers[req.method || 'GET'];
    if (!handler) {
      res.writeHead(405);
      return void res.end();
    }
    const context = {
      deadline: Date.now() + maxDuration * 1000,
      waitUntil(p) {
        const tracked = Promise.resolve(p).catch((err) => console.error('waitUntil rejected', err));
        pending.add(tracked);
        void tracked.finally(() => pending.delete(tracked));
      },
    };
    storage
      .run(context, () => Promise.resolve().then(() => handler(toRequest(req))))
      .then((response) => writeResponse(res, response))
      .catch((err) => {
        // Vercel answers an uncaught error with a 500 and logs it.
        console.error(err);
        if (res.headersSent) return void res.destroy(); // a body broken midway: a failed transfer, not a short file
        res.writeHead(500);
        res.end();
      });
  });
  server.listen(0, '127.0.0.1', () => {
    const loadMs = Number(process.hrtime.bigint() - started) / 1e6;
    process.send({ type: 'ready', port: server.address().port, loadMs });
  });
  process.on('message', async (m) => {
    if (m && m.type === 'idle') {
      const waited = pending.size > 0;
      while (pending.size) await Promise.allSettled([...pending]);
      process.send({ type: 'idle', waited });
    }
  });
  process.on('disconnect', () => process.exit(0));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
