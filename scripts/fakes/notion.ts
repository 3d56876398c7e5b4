/**
 * A fake Notion API: a real HTTP server on 127.0.0.1 (random port) that answers the
 * endpoints the executor uses with bodies shaped as the real API (version 2025-09-03,
 * data sources) answers them. Point the client at it with `NOTION_BASE_URL = fake.url`.
 *
 *   const notion = await startFakeNotion({ token: 'secret_test' });
 *   notion.addPage(makePage({ id, properties: { Name: titleProperty('Hello') } }));
 *   notion.setChildren(id, [block('paragraph', { rich_text: richText('Hi') })]);
 *   notion.failNext({ path: /\/children$/, times: 1, status: 429, retryAfter: 0 });
 *   ... run the code under test ...
 *   notion.requests          // every request: method, path, query, headers, body
 *   notion.pageUpdates       // the bodies of PATCH /v1/pages/:id, in order
 *   notion.createdPages      // pages made by POST /v1/pages (e.g. rows of an Errors database)
 *   await notion.close();
 *
 * Endpoints:
 *   GET    /v1/pages/:id                      the stored page (404 object_not_found if unknown)
 *   PATCH  /v1/pages/:id                      merges `properties` (and `in_trash`/`archived`), returns the page
 *   POST   /v1/pages                          creates a page under `parent` (data_source_id, database_id or page_id)
 *   GET    /v1/blocks/:id                     a stored block
 *   GET    /v1/blocks/:id/children            children, paginated: `page_size` (default and max 100),
 *                                             `start_cursor` (a block id, as Notion uses), `has_more`, `next_cursor`
 *   PATCH  /v1/blocks/:id/children            appends `children` (ids assigned), returns them
 *   GET    /v1/databases/:id                  a database with its `data_sources: [{id, name}]`
 *   GET    /v1/data_sources/:id               the data source
 *   POST   /v1/data_sources/:id/query         its rows (pages whose parent is it), paginated like children;
 *                                             `filter` is applied by `setQueryFilter(fn)` when given, else ignored
 * Anything else: 400 invalid_request_url. Unknown ids: Notion's real 404 body
 * `{object:"error", status:404, code:"object_not_found", message:"Could not find …"}`.
 * With `token` set, a request without `Authorization: Bearer <token>` gets 401 unauthorized.
 *
 * Failure injection: `failNext({ method?, path, times, status, retryAfter?, code?, message? })`
 * makes the next `times` matching requests answer `status` with Notion's error body for it
 * (429 rate_limited, 500 internal_server_error, 502 bad_gateway, 503 service_unavailable,
 * 409 conflict_error, ...) and a `retry-after` header when given. Failed requests are
 * recorded too (with `failed: true`).
 *
 * Rate limit, always on: Notion's, per integration token (NOTION_RATE_LIMIT below). A
 * request over it is answered 429 with Notion's body and `retry-after`, recorded with
 * `failed: true`. There is no way to turn it off or up: every test and benchmark talks to
 * the fake through the product's own client and its shared limiter (lib/notion/client.ts).
 *
 * Speed: `latencyMs` delays every answer; `hold(when)` keeps matching requests unanswered
 * until `release()` (e.g. "everything after the first request": what an answer needs).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { canonicalNotionId } from '../../lib/mailout-id';
import { propertyDescription, STATUS_NAMES, type Lang, type PropertySpec } from '../../lib/notion/schema';

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: http.IncomingHttpHeaders;
  body: unknown;
  status: number;
  failed: boolean;
  at: number;
}

export interface FailureSpec {
  method?: string;
  path: string | RegExp;
  times?: number;
  status: number;
  retryAfter?: number;
  code?: string;
  message?: string;
}

type Json = Record<string, any>;

const ERROR_CODES: Record<number, string> = {
  400: 'validation_error',
  401: 'unauthorized',
  403: 'restricted_resource',
  404: 'object_not_found',
  409: 'conflict_error',
  429: 'rate_limited',
  500: 'internal_server_error',
  502: 'bad_gateway',
  503: 'service_unavailable',
  504: 'gateway_timeout',
};

/**
 * Notion's request limit (https://developers.notion.com/reference/request-limits): "an average
 * of three requests per second" per integration, "some bursts beyond the average rate are
 * allowed"; over it, HTTP 429 `rate_limited` with a `Retry-After` header "set as an integer
 * number of seconds". The body is the one Notion sends (quoted from a real 429 in
 * https://github.com/2anki/2anki.net/issues/1522):
 *   {"object":"error","status":429,"code":"rate_limited","message":"You have been rate limited. Please try again in a few minutes.","request_id":"…"}
 * Notion does not say how big a burst is. The fake's bucket holds 6: the executor's own
 * bucket (3 a second, burst 3) twice over, because the requests a stalled event loop held
 * back arrive together with the 3 it lets out right after the stall. A client faster than
 * 3 a second on average is refused as soon as that burst is spent.
 */
export const NOTION_RATE_LIMIT = { perSecond: 3, burst: 6 } as const;

const RATE_LIMITED_MESSAGE = 'You have been rate limited. Please try again in a few minutes.';

/** One token bucket per integration token; `admit` answers null (go on) or the seconds to wait. */
function rateLimiter(clock: () => number) {
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    admit(key: string): number | null {
      const now = clock();
      const b = buckets.get(key) ?? { tokens: NOTION_RATE_LIMIT.burst, at: now };
      b.tokens = Math.min(NOTION_RATE_LIMIT.burst, b.tokens + ((now - b.at) / 1000) * NOTION_RATE_LIMIT.perSecond);
      b.at = now;
      buckets.set(key, b);
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return null;
      }
      return Math.max(1, Math.ceil((1 - b.tokens) / NOTION_RATE_LIMIT.perSecond));
    },
  };
}

/** Dashed lowercase UUID of any Notion id form (lib/mailout-id.ts reads it); any other text lower-cased. */
export function normaliseId(id: string): string {
  return canonicalNotionId(id) ?? id.toLowerCase();
}

export function newId(): string {
  return randomUUID();
}

const USER = { object: 'user', id: 'ee5f0f84-409a-440f-983a-a5315961c6e4' };
const TIME = '2024-11-24T12:00:00.000Z';

/** A rich text array of one text run (with optional annotations and link), shaped as the API returns it. */
export function richText(
  content: string,
  options: { bold?: boolean; italic?: boolean; strikethrough?: boolean; underline?: boolean; code?: boolean; color?: string; link?: string } = {},
): Json[] {
  return [textRun(content, options)];
}

export function textRun(
  content: string,
  options: { bold?: boolean; italic?: boolean; strikethrough?: boolean; underline?: boolean; code?: boolean; color?: string; link?: string } = {},
): Json {
  return {
    type: 'text',
    text: { content, link: options.link ? { url: options.link } : null },
    annotations: {
      bold: options.bold ?? false,
      italic: options.italic ?? false,
      strikethrough: options.strikethrough ?? false,
      underline: options.underline ?? false,
      code: options.code ?? false,
      color: options.color ?? 'default',
    },
    plain_text: content,
    href: options.link ?? null,
  };
}

/** A full block object of `type` with the type-specific `data`, as GET /v1/blocks/:id/children returns it. */
export function block(type: string, data: Json, options: { id?: string; hasChildren?: boolean; parentId?: string } = {}): Json {
  return {
    object: 'block',
    id: normaliseId(options.id ?? newId()),
    parent: options.parentId ? { type: 'block_id', block_id: normaliseId(options.parentId) } : { type: 'page_id', page_id: '59833787-2cf9-4fdf-8782-e53db20768a5' },
    created_time: TIME,
    last_edited_time: TIME,
    created_by: USER,
    last_edited_by: USER,
    has_children: options.hasChildren ?? false,
    archived: false,
    in_trash: false,
    type,
    [type]: data,
  };
}

export function titleProperty(text: string): Json {
  return { id: 'title', type: 'title', title: text ? richText(text) : [] };
}
export function richTextProperty(text: string, id = 'rt'): Json {
  return { id, type: 'rich_text', rich_text: text ? richText(text) : [] };
}
export function checkboxProperty(checked: boolean, id = 'cb'): Json {
  return { id, type: 'checkbox', checkbox: checked };
}
export function selectProperty(name: string | null, id = 'sel'): Json {
  return { id, type: 'select', select: name ? { id: `opt-${name}`, name, color: 'default' } : null };
}

/** A full page object in a data source. */
export function makePage(options: { id?: string; dataSourceId?: string; databaseId?: string; properties: Json }): Json {
  const id = normaliseId(options.id ?? newId());
  return {
    object: 'page',
    id,
    created_time: TIME,
    last_edited_time: TIME,
    created_by: USER,
    last_edited_by: USER,
    cover: null,
    icon: null,
    parent: options.dataSourceId
      ? { type: 'data_source_id', data_source_id: normaliseId(options.dataSourceId), database_id: normaliseId(options.databaseId ?? options.dataSourceId) }
      : { type: 'workspace', workspace: true },
    archived: false,
    in_trash: false,
    is_locked: false,
    properties: options.properties,
    url: `https://www.notion.so/${id.replace(/-/g, '')}`,
    public_url: null,
  };
}

/**
 * A data source's `properties` as `npm run setup:notion` creates them from a spec list
 * (lib/notion/schema): names in `lang`, ids, descriptions with role markers (`markers: false`:
 * a database made before them), shaped as GET /v1/data_sources/:id returns them.
 */
export function dataSourceProperties(specs: PropertySpec[], lang: Lang, options: { markers?: boolean } = {}): Json {
  return Object.fromEntries(
    specs.map((s, i) => {
      const id = s.type === 'title' ? 'title' : `${s.role.slice(0, 3)}${i}`;
      const config =
        s.type === 'select'
          ? { options: (s.options ?? []).map((k) => ({ id: `opt-${k}`, name: STATUS_NAMES[k][lang], color: 'default', description: null })) }
          : s.type === 'number'
            ? { format: 'number' }
            : {};
      const description = options.markers === false ? null : propertyDescription(s, lang);
      return [s.names[lang], { id, name: s.names[lang], description, type: s.type, [s.type]: config }];
    }),
  );
}

/** A row of a data source: every schema property, empty unless `values` (by name) says otherwise, as a page returns them. */
export function rowProperties(schema: Json, values: Record<string, unknown> = {}): Json {
  const empty: Record<string, (v: any) => unknown> = {
    title: (v) => (v ? richText(String(v)) : []),
    rich_text: (v) => (v ? richText(String(v)) : []),
    checkbox: (v) => Boolean(v),
    select: (v) => (v ? { id: `opt-${v}`, name: String(v), color: 'default' } : null),
    number: (v) => (typeof v === 'number' ? v : null),
    date: (v) => (v ? { start: String(v), end: null, time_zone: null } : null),
    url: (v) => (v ? String(v) : null),
  };
  return Object.fromEntries(
    Object.entries(schema).map(([name, p]: [string, any]) => [name, { id: p.id, type: p.type, [p.type]: (empty[p.type] ?? (() => null))(values[name]) }]),
  );
}

/** Turns request-shaped property values (`{select:{name}}`, `{rich_text:[{text:{content}}]}`) into response shape. */
function responseProperty(name: string, value: Json, previous?: Json): Json {
  const type = Object.keys(value).find((k) => k !== 'type' && k !== 'id') ?? value.type;
  const v = value[type];
  let out: unknown = v;
  if ((type === 'title' || type === 'rich_text') && Array.isArray(v)) {
    out = v.map((t: Json) =>
      t.plain_text !== undefined ? t : textRun(t.text?.content ?? '', { ...(t.annotations ?? {}), link: t.text?.link?.url }),
    );
  } else if ((type === 'select' || type === 'status') && v && typeof v === 'object') {
    out = { id: v.id ?? `opt-${v.name}`, name: v.name, color: v.color ?? 'default' };
  } else if (type === 'date' && v && typeof v === 'object') {
    out = { start: v.start, end: v.end ?? null, time_zone: v.time_zone ?? null };
  }
  return { id: previous?.id ?? encodeURIComponent(name).slice(0, 8), type, [type]: out };
}

export interface FakeNotion {
  url: string;
  requests: RecordedRequest[];
  pages: Map<string, Json>;
  blocks: Map<string, Json>;
  children: Map<string, Json[]>;
  databases: Map<string, Json>;
  dataSources: Map<string, Json>;
  pageUpdates: Array<{ pageId: string; body: Json }>;
  createdPages: Json[];
  addPage(page: Json): Json;
  /** Sets the children of a page or block; marks the blocks as known (for GET /v1/blocks/:id). */
  setChildren(parentId: string, blocks: Json[]): void;
  addDatabase(options: { id?: string; dataSourceId?: string; title?: string; properties?: Json }): { databaseId: string; dataSourceId: string };
  /** A further data source in a database (Notion's multi-source databases). */
  addDataSource(databaseId: string, options?: { title?: string; properties?: Json }): string;
  /** Renames a data source's property, on every row too, as Notion does; its id and description stay. */
  renameProperty(dataSourceId: string, from: string, to: string): void;
  setQueryFilter(fn: (page: Json, filter: unknown) => boolean): void;
  /**
   * Holds every request for which `when(request, index)` is true (`index`: its place among
   * the requests received since this call, from 0) unanswered until `release()`: a test can prove that an
   * answer needed no more Notion requests than it let through.
   */
  hold(when: (request: { method: string; path: string }, index: number) => boolean): { held(): number; release(): void };
  failNext(spec: FailureSpec): void;
  /** Forget every pending failure. */
  clearFailures(): void;
  /** Requests whose path matches (string: exact path; RegExp: test). */
  calls(path: string | RegExp, method?: string): RecordedRequest[];
  clearRequests(): void;
  close(): Promise<void>;
}

export interface FakeNotionOptions {
  token?: string;
  /** Each answer waits this long, as a distant or busy Notion does (the real one answers in 100 ms–1 s). */
  latencyMs?: number;
  /** The rate limit's clock, in milliseconds (default Date.now): the fake's own tests step it. */
  clock?: () => number;
}

export async function startFakeNotion(options: FakeNotionOptions = {}): Promise<FakeNotion> {
  const requests: RecordedRequest[] = [];
  const pages = new Map<string, Json>();
  const blocks = new Map<string, Json>();
  const children = new Map<string, Json[]>();
  const databases = new Map<string, Json>();
  const dataSources = new Map<string, Json>();
  const pageUpdates: Array<{ pageId: string; body: Json }> = [];
  const createdPages: Json[] = [];
  const failures: Array<FailureSpec & { remaining: number }> = [];
  let queryFilter: ((page: Json, filter: unknown) => boolean) | undefined;
  let received = 0;
  let holding: { when: (r: { method: string; path: string }, index: number) => boolean; waiting: (() => void)[] } | undefined;
  const limit = rateLimiter(options.clock ?? Date.now);

  const errorBody = (status: number, code: string, message: string) => ({
    object: 'error',
    status,
    code,
    message,
    request_id: randomUUID(),
  });
  const notFound = (kind: string, id: string) =>
    errorBody(404, 'object_not_found', `Could not find ${kind} with ID: ${normaliseId(id)}. Make sure the relevant pages and databases are shared with your integration.`);

  function paginate(items: Json[], query: Record<string, string | undefined>): Json {
    const size = Math.min(100, Math.max(1, Number(query.page_size ?? 100) || 100));
    let start = 0;
    if (query.start_cursor) {
      start = items.findIndex((b) => b.id === normaliseId(query.start_cursor!));
      if (start < 0) return { __error: errorBody(400, 'validation_error', `start_cursor provided is invalid: ${query.start_cursor}`) };
    }
    const results = items.slice(start, start + size);
    const next = items[start + size];
    return { object: 'list', results, next_cursor: next ? next.id : null, has_more: Boolean(next) };
  }

  function route(method: string, path: string, query: Record<string, string>, body: Json): { status: number; body: Json } {
    let m: RegExpExecArray | null;
    if (method === 'GET' && (m = /^\/v1\/pages\/([^/]+)$/.exec(path))) {
      const page = pages.get(normaliseId(m[1]!));
      return page ? { status: 200, body: page } : { status: 404, body: notFound('page', m[1]!) };
    }
    if (method === 'PATCH' && (m = /^\/v1\/pages\/([^/]+)$/.exec(path))) {
      const id = normaliseId(m[1]!);
      const page = pages.get(id);
      if (!page) return { status: 404, body: notFound('page', m[1]!) };
      pageUpdates.push({ pageId: id, body });
      for (const [key, value] of Object.entries((body.properties ?? {}) as Json)) {
        // Notion takes a property's name or its id as the key.
        const name = page.properties[key] ? key : Object.keys(page.properties).find((n) => page.properties[n].id === key);
        if (!name) {
          return { status: 400, body: errorBody(400, 'validation_error', `${key} is not a property that exists.`) };
        }
        page.properties[name] = responseProperty(name, value as Json, page.properties[name]);
      }
      if (typeof body.in_trash === 'boolean') page.in_trash = page.archived = body.in_trash;
      if (typeof body.archived === 'boolean') page.in_trash = page.archived = body.archived;
      page.last_edited_time = new Date().toISOString();
      return { status: 200, body: page };
    }
    if (method === 'POST' && path === '/v1/pages') {
      const parent = (body.parent ?? {}) as Json;
      let dsId: string | undefined = parent.data_source_id;
      if (parent.database_id) {
        const db = databases.get(normaliseId(parent.database_id));
        if (!db) return { status: 404, body: notFound('database', parent.database_id) };
        // 2025-09-03 upgrade guide: a page created with a database parent fails once the database has several data sources.
        if (db.data_sources.length > 1) {
          return { status: 400, body: errorBody(400, 'validation_error', `Database ${db.id} has multiple data sources; use a data_source_id parent.`) };
        }
        dsId = db.data_sources[0]?.id;
      }
      const ds = dsId ? dataSources.get(normaliseId(dsId)) : undefined;
      if (dsId && !ds) return { status: 404, body: notFound('data source', dsId) };
      const properties: Json = {};
      for (const [key, value] of Object.entries((body.properties ?? {}) as Json)) {
        // Under a data source, keys are the schema's property names or ids (create-pages-in-a-data-source guide).
        const name = ds ? (ds.properties[key] ? key : Object.keys(ds.properties).find((n) => ds.properties[n].id === key)) : key;
        if (!name) return { status: 400, body: errorBody(400, 'validation_error', `${key} is not a property that exists.`) };
        properties[name] = responseProperty(name, value as Json, ds?.properties[name]);
      }
      const page = makePage({ dataSourceId: dsId, ...(ds ? { databaseId: ds.parent.database_id } : {}), properties });
      if (parent.page_id) page.parent = { type: 'page_id', page_id: normaliseId(parent.page_id) };
      pages.set(page.id, page);
      createdPages.push(page);
      if (Array.isArray(body.children)) setChildren(page.id, body.children.map((c: Json) => ({ ...block(c.type, c[c.type]), ...c, id: newId() })));
      return { status: 200, body: page };
    }
    if (method === 'GET' && (m = /^\/v1\/blocks\/([^/]+)\/children$/.exec(path))) {
      const id = normaliseId(m[1]!);
      const list = children.get(id);
      if (!list) return { status: 404, body: notFound('block', m[1]!) };
      const page = paginate(list, query);
      if (page.__error) return { status: 400, body: page.__error };
      return { status: 200, body: { ...page, type: 'block', block: {} } };
    }
    if (method === 'PATCH' && (m = /^\/v1\/blocks\/([^/]+)\/children$/.exec(path))) {
      const id = normaliseId(m[1]!);
      if (!children.has(id) && !pages.has(id) && !blocks.has(id)) return { status: 404, body: notFound('block', m[1]!) };
      const added = ((body.children ?? []) as Json[]).map((c) => block(c.type, c[c.type], { parentId: id }));
      setChildren(id, [...(children.get(id) ?? []), ...added]);
      return { status: 200, body: { object: 'list', results: added, next_cursor: null, has_more: false, type: 'block', block: {} } };
    }
    if (method === 'GET' && (m = /^\/v1\/blocks\/([^/]+)$/.exec(path))) {
      const b = blocks.get(normaliseId(m[1]!));
      return b ? { status: 200, body: b } : { status: 404, body: notFound('block', m[1]!) };
    }
    if (method === 'GET' && (m = /^\/v1\/databases\/([^/]+)$/.exec(path))) {
      const db = databases.get(normaliseId(m[1]!));
      return db ? { status: 200, body: db } : { status: 404, body: notFound('database', m[1]!) };
    }
    if (method === 'GET' && (m = /^\/v1\/data_sources\/([^/]+)$/.exec(path))) {
      const ds = dataSources.get(normaliseId(m[1]!));
      return ds ? { status: 200, body: ds } : { status: 404, body: notFound('data source', m[1]!) };
    }
    if (method === 'POST' && (m = /^\/v1\/data_sources\/([^/]+)\/query$/.exec(path))) {
      const id = normaliseId(m[1]!);
      if (!dataSources.has(id)) return { status: 404, body: notFound('data source', m[1]!) };
      const rows = [...pages.values()].filter(
        (p) => p.parent?.data_source_id === id && !p.in_trash && (!queryFilter || body.filter === undefined || queryFilter(p, body.filter)),
      );
      const page = paginate(rows, { page_size: body.page_size, start_cursor: body.start_cursor });
      if (page.__error) return { status: 400, body: page.__error };
      return { status: 200, body: { ...page, type: 'page_or_data_source', page_or_data_source: {} } };
    }
    return { status: 400, body: errorBody(400, 'invalid_request_url', 'Invalid request URL.') };
  }

  function setChildren(parentId: string, list: Json[]): void {
    const id = normaliseId(parentId);
    children.set(id, list);
    for (const b of list) {
      blocks.set(b.id, b);
      if (b.has_children && !children.has(b.id)) children.set(b.id, []);
    }
    const parentBlock = blocks.get(id);
    if (parentBlock) parentBlock.has_children = list.length > 0;
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    // A request is counted when it arrives, as a server counts it, not when a hold lets it be answered.
    let retryAfter: number | null = null;
    req.on('end', () => {
      const index = received++;
      retryAfter = limit.admit(String(req.headers.authorization ?? ''));
      const answer = () => setTimeout(respond, options.latencyMs ?? 0);
      const target = { method: (req.method ?? 'GET').toUpperCase(), path: new URL(req.url ?? '/', 'http://127.0.0.1').pathname };
      if (holding?.when(target, index)) holding.waiting.push(answer);
      else answer();
    });
    const respond = () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const method = (req.method ?? 'GET').toUpperCase();
      const query = Object.fromEntries(url.searchParams.entries());
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: Json = {};
      try {
        body = raw ? JSON.parse(raw) : {};
      } catch {
        body = { __raw: raw };
      }
      const send = (status: number, payload: Json, headers: Record<string, string> = {}, failed = false) => {
        requests.push({ method, path: url.pathname, query, headers: req.headers, body, status, failed, at: Date.now() });
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
        res.end(JSON.stringify(payload));
      };
      const failure = failures.find(
        (f) =>
          f.remaining > 0 &&
          (!f.method || f.method.toUpperCase() === method) &&
          (typeof f.path === 'string' ? f.path === url.pathname : f.path.test(url.pathname)),
      );
      if (failure) {
        failure.remaining -= 1;
        const code = failure.code ?? ERROR_CODES[failure.status] ?? 'internal_server_error';
        const message =
          failure.message ?? (failure.status === 429 ? RATE_LIMITED_MESSAGE : 'Unexpected error occurred.');
        return send(
          failure.status,
          errorBody(failure.status, code, message),
          failure.retryAfter !== undefined ? { 'retry-after': String(failure.retryAfter) } : {},
          true,
        );
      }
      if (options.token && req.headers.authorization !== `Bearer ${options.token}`) {
        return send(401, errorBody(401, 'unauthorized', 'API token is invalid.'));
      }
      if (retryAfter !== null) {
        return send(429, errorBody(429, 'rate_limited', RATE_LIMITED_MESSAGE), { 'retry-after': String(retryAfter) }, true);
      }
      const out = route(method, url.pathname, query, body);
      send(out.status, out.body);
    };
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    pages,
    blocks,
    children,
    databases,
    dataSources,
    pageUpdates,
    createdPages,
    addPage(page) {
      // A row names its data source and that source's database, as the real API does (2025-09-03).
      const source = page.parent?.data_source_id ? dataSources.get(page.parent.data_source_id) : undefined;
      if (source) page.parent.database_id = source.parent.database_id;
      pages.set(normaliseId(page.id), page);
      if (!children.has(normaliseId(page.id))) children.set(normaliseId(page.id), []);
      return page;
    },
    setChildren,
    addDatabase({ id, dataSourceId, title = 'Database', properties = {} }) {
      const databaseId = normaliseId(id ?? newId());
      const dsId = normaliseId(dataSourceId ?? newId());
      const titleRt = richText(title);
      databases.set(databaseId, {
        object: 'database',
        id: databaseId,
        title: titleRt,
        description: [],
        parent: { type: 'workspace', workspace: true },
        is_inline: false,
        in_trash: false,
        is_locked: false,
        created_time: TIME,
        last_edited_time: TIME,
        data_sources: [{ id: dsId, name: title }],
        icon: null,
        cover: null,
        url: `https://www.notion.so/${databaseId.replace(/-/g, '')}`,
        public_url: null,
      });
      dataSources.set(dsId, {
        object: 'data_source',
        id: dsId,
        title: titleRt,
        description: [],
        parent: { type: 'database_id', database_id: databaseId },
        database_parent: { type: 'workspace', workspace: true },
        properties,
        archived: false,
        in_trash: false,
        created_time: TIME,
        last_edited_time: TIME,
        icon: null,
        cover: null,
        url: `https://www.notion.so/${dsId.replace(/-/g, '')}`,
        public_url: null,
      });
      return { databaseId, dataSourceId: dsId };
    },
    addDataSource(databaseId, { title = 'Data source', properties = {} } = {}) {
      const db = databases.get(normaliseId(databaseId))!;
      const dsId = newId();
      dataSources.set(dsId, { ...structuredClone(dataSources.get(db.data_sources[0].id)), id: dsId, title: richText(title), properties });
      db.data_sources.push({ id: dsId, name: title });
      return dsId;
    },
    renameProperty(dataSourceId, from, to) {
      const rename = (props: Json) => {
        if (!props[from]) return;
        props[to] = { ...props[from], ...(props[from].name !== undefined ? { name: to } : {}) };
        delete props[from];
      };
      rename(dataSources.get(normaliseId(dataSourceId))!.properties);
      for (const page of pages.values()) if (page.parent?.data_source_id === normaliseId(dataSourceId)) rename(page.properties);
    },
    setQueryFilter(fn) {
      queryFilter = fn;
    },
    hold(when) {
      const from = received;
      const h = { when: (r: { method: string; path: string }, index: number) => when(r, index - from), waiting: [] as (() => void)[] };
      holding = h;
      return {
        held: () => h.waiting.length,
        release() {
          if (holding === h) holding = undefined;
          h.waiting.splice(0).forEach((answer) => answer());
        },
      };
    },
    clearFailures() {
      failures.length = 0;
    },
    failNext(spec) {
      failures.push({ ...spec, remaining: spec.times ?? 1 });
    },
    calls(path, method) {
      return requests.filter(
        (r) => (typeof path === 'string' ? r.path === path : path.test(r.path)) && (!method || r.method === method.toUpperCase()),
      );
    },
    clearRequests() {
      requests.length = 0;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
