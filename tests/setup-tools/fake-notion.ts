import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { propertyDescription, STATUS_NAMES, type Lang, type PropertySpec } from '../../lib/notion/schema';

/**
 * A small stateful fake of the Notion REST API (version 2025-09-03) for the setup helpers:
 * block children of a page, create/retrieve database, retrieve/update data source. It answers
 * with payloads of the real shape and records every request.
 */

export interface RecordedNotionRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
}

interface FakeProperty {
  id: string;
  name: string;
  type: string;
  config: Record<string, unknown>;
  /** Kept through renames, as Notion keeps it. */
  description: string | null;
}

interface FakeDataSource {
  id: string;
  databaseId: string;
  name: string;
  properties: FakeProperty[];
}

interface FakeDatabase {
  id: string;
  parentPageId: string;
  title: string;
  dataSourceIds: string[];
}

type Block = { id: string; type: 'paragraph' | 'child_page' | 'child_database'; title?: string };

export type FakeSchema = Record<string, { type: string; options?: string[]; description?: string }>;

/** The schema setup creates from a spec list in `lang` (names, option names, role markers), as `schemaOf` shows it. */
export function specSchema(specs: PropertySpec[], lang: Lang = 'en', options: { markers?: boolean } = {}): FakeSchema {
  return Object.fromEntries(
    specs.map((s) => [
      s.names[lang],
      {
        type: s.type,
        ...(s.options ? { options: s.options.map((k) => STATUS_NAMES[k][lang]) } : {}),
        ...(options.markers === false ? {} : { description: propertyDescription(s, lang) }),
      },
    ]),
  );
}

const KNOWN_TYPES = ['title', 'rich_text', 'number', 'select', 'multi_select', 'status', 'date', 'checkbox', 'url', 'email', 'people', 'files', 'formula'];
const NOW = '2025-10-01T10:00:00.000Z';
const USER = { object: 'user', id: '00000000-0000-4000-8000-0000000000aa' };

const norm = (id: string) => id.replace(/-/g, '').toLowerCase();

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class FakeNotion {
  readonly token = 'secret_fake_notion_token';
  readonly requests: RecordedNotionRequest[] = [];
  /** Children returned per page of GET /blocks/:id/children, to exercise pagination. */
  pageSize = 2;
  private server?: http.Server;
  private readonly pages = new Map<string, Block[]>();
  private readonly databases = new Map<string, FakeDatabase>();
  private readonly dataSources = new Map<string, FakeDataSource>();
  private propertyCounter = 0;

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    if (this.server) await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  /** A page the integration can see, with some ordinary content blocks. */
  addPage(id: string = randomUUID(), filler = 3): string {
    const blocks: Block[] = [];
    for (let i = 0; i < filler; i++) blocks.push({ id: randomUUID(), type: i % 2 ? 'child_page' : 'paragraph', title: `Note ${i}` });
    this.pages.set(norm(id), blocks);
    return id;
  }

  /** An existing database under a page, with the given properties (name → type, select options). */
  addDatabase(
    parentPageId: string,
    title: string,
    properties: Record<string, { type: string; options?: string[]; description?: string }>,
  ): { databaseId: string; dataSourceId: string } {
    const databaseId = randomUUID();
    const dataSourceId = randomUUID();
    this.databases.set(norm(databaseId), { id: databaseId, parentPageId, title, dataSourceIds: [dataSourceId] });
    const props = Object.entries(properties).map(([name, p]) =>
      this.makeProperty(name, p.type, p.type === 'select' || p.type === 'status' ? { options: (p.options ?? []).map((o) => ({ name: o })) } : {}, p.description),
    );
    this.dataSources.set(norm(dataSourceId), { id: dataSourceId, databaseId, name: title, properties: props });
    this.pages.get(norm(parentPageId))?.push({ id: databaseId, type: 'child_database', title });
    return { databaseId, dataSourceId };
  }

  /** The data source's schema as name → type (and select/status option names, description). */
  schemaOf(databaseId: string): Record<string, { type: string; options?: string[]; description?: string }> {
    const db = this.databases.get(norm(databaseId));
    if (!db) throw new Error(`no database ${databaseId}`);
    const ds = this.dataSources.get(norm(db.dataSourceIds[0]!))!;
    return Object.fromEntries(
      ds.properties.map((p) => {
        const options = (p.config.options as { name: string }[] | undefined)?.map((o) => o.name);
        return [p.name, { type: p.type, ...(options ? { options } : {}), ...(p.description ? { description: p.description } : {}) }];
      }),
    );
  }

  databasesUnder(pageId: string): { id: string; title: string }[] {
    return [...this.databases.values()].filter((d) => norm(d.parentPageId) === norm(pageId)).map((d) => ({ id: d.id, title: d.title }));
  }

  /** Requests that change something (anything but GET). */
  writes(): RecordedNotionRequest[] {
    return this.requests.filter((r) => r.method !== 'GET');
  }

  calls(): string[] {
    return this.requests.map((r) => `${r.method} ${r.path}`);
  }

  private makeProperty(name: string, type: string, config: Record<string, unknown>, description?: unknown): FakeProperty {
    const id = type === 'title' ? 'title' : `p${++this.propertyCounter}`;
    let cfg = config;
    if (type === 'select' || type === 'status') {
      const options = ((config.options as { name: string; color?: string; id?: string }[] | undefined) ?? []).map((o) => ({
        id: o.id ?? randomUUID(),
        name: o.name,
        color: o.color ?? 'default',
        description: null,
      }));
      cfg = { options };
    } else if (type === 'number') {
      cfg = { format: (config.format as string | undefined) ?? 'number' };
    } else {
      cfg = {};
    }
    return { id, name, type, config: cfg, description: typeof description === 'string' && description ? description : null };
  }

  private propertyTypeOf(name: string, config: Record<string, unknown>): { type: string; body: Record<string, unknown> } {
    const keys = Object.keys(config).filter((k) => k !== 'name' && k !== 'description' && k !== 'type');
    if (keys.length !== 1 || !KNOWN_TYPES.includes(keys[0]!)) {
      throw new HttpError(400, 'validation_error', `body.properties.${name} should define exactly one property type.`);
    }
    if (typeof config.type === 'string' && config.type !== keys[0]) {
      throw new HttpError(400, 'validation_error', `body.properties.${name}.type does not match its configuration.`);
    }
    const body = config[keys[0]!];
    if (typeof body !== 'object' || body === null) throw new HttpError(400, 'validation_error', `body.properties.${name}.${keys[0]} should be an object.`);
    return { type: keys[0]!, body: body as Record<string, unknown> };
  }

  private databaseJson(db: FakeDatabase) {
    return {
      object: 'database',
      id: db.id,
      title: [richText(db.title)],
      description: [],
      parent: { type: 'page_id', page_id: db.parentPageId },
      is_inline: false,
      in_trash: false,
      archived: false,
      is_locked: false,
      created_time: NOW,
      last_edited_time: NOW,
      data_sources: db.dataSourceIds.map((id) => ({ id, name: this.dataSources.get(norm(id))!.name })),
      icon: null,
      cover: null,
      url: `https://www.notion.so/${norm(db.id)}`,
      public_url: null,
      request_id: randomUUID(),
    };
  }

  private dataSourceJson(ds: FakeDataSource) {
    const db = this.databases.get(norm(ds.databaseId))!;
    return {
      object: 'data_source',
      id: ds.id,
      title: [richText(ds.name)],
      description: [],
      parent: { type: 'database_id', database_id: ds.databaseId },
      database_parent: { type: 'page_id', page_id: db.parentPageId },
      is_inline: false,
      archived: false,
      in_trash: false,
      created_time: NOW,
      last_edited_time: NOW,
      created_by: USER,
      last_edited_by: USER,
      properties: Object.fromEntries(
        ds.properties.map((p) => [p.name, { id: p.id, name: p.name, description: p.description, type: p.type, [p.type]: p.config }]),
      ),
      icon: null,
      cover: null,
      url: `https://www.notion.so/${norm(ds.id)}`,
      public_url: null,
      request_id: randomUUID(),
    };
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://fake');
    let body: unknown = undefined;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      body = raw;
    }
    const method = req.method ?? 'GET';
    this.requests.push({ method, path: url.pathname, query: Object.fromEntries(url.searchParams), body });

    const send = (status: number, payload: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    try {
      if (req.headers.authorization !== `Bearer ${this.token}`) throw new HttpError(401, 'unauthorized', 'API token is invalid.');
      if (req.headers['notion-version'] !== '2025-09-03') {
        throw new HttpError(400, 'invalid_request', `Notion-Version ${String(req.headers['notion-version'])} is not what this fake serves.`);
      }
      send(200, this.route(method, url, body));
    } catch (err) {
      if (err instanceof HttpError) {
        send(err.status, { object: 'error', status: err.status, code: err.code, message: err.message, request_id: randomUUID() });
      } else {
        send(500, { object: 'error', status: 500, code: 'internal_server_error', message: String(err) });
      }
    }
  }

  private route(method: string, url: URL, body: unknown): unknown {
    const parts = url.pathname.split('/').filter(Boolean); // ['v1', ...]
    if (parts[0] !== 'v1') throw new HttpError(404, 'invalid_request_url', 'Invalid request URL.');
    const [, resource, id, sub] = parts;

    if (method === 'GET' && resource === 'blocks' && id && sub === 'children') {
      const blocks = this.pages.get(norm(id));
      if (!blocks) throw new HttpError(404, 'object_not_found', `Could not find block with ID: ${id}. Make sure the relevant pages and databases are shared with your integration.`);
      const start = Number(url.searchParams.get('start_cursor') ?? 0);
      const size = Math.min(this.pageSize, Number(url.searchParams.get('page_size') ?? 100));
      const slice = blocks.slice(start, start + size);
      const more = start + size < blocks.length;
      return {
        object: 'list',
        results: slice.map((b) => blockJson(b, id)),
        next_cursor: more ? String(start + size) : null,
        has_more: more,
        type: 'block',
        block: {},
        request_id: randomUUID(),
      };
    }

    if (method === 'POST' && resource === 'databases' && !id) {
      const b = body as {
        parent?: { type?: string; page_id?: string };
        title?: { text?: { content?: string } }[];
        initial_data_source?: { properties?: Record<string, Record<string, unknown>> };
      };
      if (b?.parent?.type !== 'page_id' || !b.parent.page_id) throw new HttpError(400, 'validation_error', 'body.parent.page_id should be defined.');
      const pageId = b.parent.page_id;
      if (!this.pages.has(norm(pageId))) {
        throw new HttpError(404, 'object_not_found', `Could not find page with ID: ${pageId}. Make sure the relevant pages and databases are shared with your integration.`);
      }
      const title = (b.title ?? []).map((t) => t.text?.content ?? '').join('');
      const propsIn = b.initial_data_source?.properties ?? {};
      const props = Object.entries(propsIn).map(([name, cfg]) => {
        const { type, body: tb } = this.propertyTypeOf(name, cfg);
        return this.makeProperty(name, type, tb, cfg.description);
      });
      if (props.filter((p) => p.type === 'title').length > 1) throw new HttpError(400, 'validation_error', 'Only one title property is allowed.');
      if (!props.some((p) => p.type === 'title')) props.unshift(this.makeProperty('Name', 'title', {}));
      const databaseId = randomUUID();
      const dataSourceId = randomUUID();
      const db: FakeDatabase = { id: databaseId, parentPageId: pageId, title, dataSourceIds: [dataSourceId] };
      this.databases.set(norm(databaseId), db);
      this.dataSources.set(norm(dataSourceId), { id: dataSourceId, databaseId, name: title, properties: props });
      this.pages.get(norm(pageId))!.push({ id: databaseId, type: 'child_database', title });
      return this.databaseJson(db);
    }

    if (method === 'GET' && resource === 'databases' && id) {
      const db = this.databases.get(norm(id));
      if (!db) throw new HttpError(404, 'object_not_found', `Could not find database with ID: ${id}. Make sure the relevant pages and databases are shared with your integration.`);
      return this.databaseJson(db);
    }

    if (resource === 'data_sources' && id && (method === 'GET' || method === 'PATCH')) {
      const ds = this.dataSources.get(norm(id));
      if (!ds) throw new HttpError(404, 'object_not_found', `Could not find data_source with ID: ${id}.`);
      if (method === 'PATCH') this.applyUpdate(ds, (body as { properties?: Record<string, Record<string, unknown> | null> })?.properties ?? {});
      return this.dataSourceJson(ds);
    }

    throw new HttpError(400, 'invalid_request_url', `${method} ${url.pathname} is not served by this fake.`);
  }

  private applyUpdate(ds: FakeDataSource, properties: Record<string, Record<string, unknown> | null>): void {
    for (const [key, cfg] of Object.entries(properties)) {
      const existing = ds.properties.find((p) => p.id === key) ?? ds.properties.find((p) => p.name === key);
      if (cfg === null) {
        if (!existing) throw new HttpError(400, 'validation_error', `Property ${key} does not exist.`);
        ds.properties = ds.properties.filter((p) => p !== existing);
        continue;
      }
      const typeKeys = Object.keys(cfg).filter((k) => k !== 'name' && k !== 'description' && k !== 'type');
      if (existing) {
        if (typeof cfg.name === 'string') {
          if (ds.properties.some((p) => p !== existing && p.name === cfg.name)) {
            throw new HttpError(400, 'validation_error', `A property named ${cfg.name} already exists.`);
          }
          existing.name = cfg.name;
        }
        if (cfg.description !== undefined) existing.description = typeof cfg.description === 'string' && cfg.description ? cfg.description : null;
        if (typeKeys.length) {
          const { type, body } = this.propertyTypeOf(key, cfg);
          if (existing.type === 'title' && type !== 'title') throw new HttpError(400, 'validation_error', 'Cannot change the type of the title property.');
          if (existing.type === 'status') throw new HttpError(400, 'validation_error', 'Cannot update status options via the API.');
          const updated = this.makeProperty(existing.name, type, body);
          existing.type = updated.type;
          existing.config = updated.config;
        }
      } else {
        if (!typeKeys.length) throw new HttpError(400, 'validation_error', `Property ${key} does not exist.`);
        const { type, body } = this.propertyTypeOf(key, cfg);
        if (type === 'title') throw new HttpError(400, 'validation_error', 'A data source has exactly one title property.');
        ds.properties.push(this.makeProperty(typeof cfg.name === 'string' ? cfg.name : key, type, body, cfg.description));
      }
    }
  }
}

function richText(content: string) {
  return {
    type: 'text',
    text: { content, link: null },
    annotations: { bold: false, italic: false, strikethrough: false, underline: false, code: false, color: 'default' },
    plain_text: content,
    href: null,
  };
}

function blockJson(b: Block, parentId: string) {
  const base = {
    object: 'block',
    id: b.id,
    parent: { type: 'page_id', page_id: parentId },
    created_time: NOW,
    last_edited_time: NOW,
    created_by: USER,
    last_edited_by: USER,
    has_children: false,
    archived: false,
    in_trash: false,
    type: b.type,
  };
  if (b.type === 'paragraph') return { ...base, paragraph: { rich_text: [richText(b.title ?? '')], color: 'default' } };
  if (b.type === 'child_page') return { ...base, child_page: { title: b.title ?? '' } };
  return { ...base, child_database: { title: b.title ?? '' } };
}
