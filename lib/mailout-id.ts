import { createHash } from 'node:crypto';
import path from 'node:path';
import { AppError } from './errors';

/**
 * The identity of a mailout: one Notion page is one mailout, whatever spelling of the page
 * arrives. Every entry point (webhook, the spec's body, continuation, cron, CLIs, report
 * links, test sends) parses its reference here into the canonical form, a dashed lower-case
 * UUID, and the database refuses any other form (migration 20261201134500_canonical_identities).
 */

const CANONICAL = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const BARE_ID = /^[0-9a-f]{32}$/i;
const DASHED_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const NOTION_HOSTS = /^(?:(?:[a-z0-9-]+\.)*notion\.(?:so|site|com))$/;

export const ACCEPTED_MAILOUT_REFERENCES =
  'Accepted: a Notion page id (32 hex digits, dashed or not, any case); a page link ' +
  '(https://www.notion.so/<workspace>/<Title>-<id>, https://<name>.notion.site/<Title>-<id>, ' +
  'with any ?query or #fragment; a database link with ?p=<id> names the page open in it); ' +
  'a Notion automation webhook body (its page in data.id); or the id `npm run send` printed for a Markdown file.';

export function isCanonicalMailoutId(value: unknown): value is string {
  return typeof value === 'string' && CANONICAL.test(value);
}

function dash(hex32: string): string {
  const h = hex32.toLowerCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function bareId(value: string): string | null {
  if (BARE_ID.test(value)) return value;
  if (DASHED_ID.test(value)) return value.replace(/-/g, '');
  return null;
}

function parseUrl(input: string): URL | null {
  // A link copied without its scheme ("www.notion.so/...") is still a link.
  const withScheme = /^[a-z][a-z0-9+.-]*:/i.test(input) ? input : `https://${input}`;
  try {
    const url = new URL(withScheme);
    return /^(https?|notion):$/.test(url.protocol) && NOTION_HOSTS.test(url.hostname.toLowerCase()) ? url : null;
  } catch {
    return null;
  }
}

function pageIdOfUrl(url: URL): string | null {
  // `p` names the page open over a database (a peek); the path is then the database.
  const peek = url.searchParams.get('p');
  if (peek !== null) return bareId(peek.trim());
  // A `#fragment` names a block inside the page: the page is the path's last segment,
  // whose id ends its title slug ("Title-<32 hex>").
  let last = url.pathname.split('/').filter(Boolean).pop() ?? '';
  try {
    last = decodeURIComponent(last);
  } catch {
    return null;
  }
  const m = /([0-9a-f]{32})$/i.exec(last.replace(/-/g, ''));
  if (!m) return null;
  // A database view link (?v=) without a page in it names the database, not a page.
  if (url.searchParams.has('v')) return null;
  return m[1]!;
}

/**
 * A Notion id as an API path carries it (32 hex digits, dashed or not, any case), as the
 * canonical dashed lower-case UUID; null for anything else (a link included).
 */
export function canonicalNotionId(value: string): string | null {
  const bare = bareId(value.trim());
  return bare ? dash(bare) : null;
}

/**
 * A Notion page reference in any spelling a person or Notion produces (the forms of
 * ACCEPTED_MAILOUT_REFERENCES but the webhook body), as the canonical dashed lower-case
 * UUID; null for anything else.
 */
export function parsePageReference(reference: unknown): string | null {
  const input = typeof reference === 'string' ? reference.trim() : '';
  const url = bareId(input) ? null : parseUrl(input);
  const bare = bareId(input) ?? (url ? pageIdOfUrl(url) : null);
  return bare ? dash(bare) : null;
}

/**
 * A Notion page reference in any spelling a person or Notion produces, as the canonical
 * dashed lower-case UUID. Anything else is a 400 that lists the accepted forms.
 */
export function parseMailoutId(reference: unknown, what = 'mailout_id'): string {
  const id = parsePageReference(reference);
  if (!id) {
    const shown = typeof reference === 'string' ? `"${reference.slice(0, 200)}"` : typeof reference;
    throw new AppError('bad_request', `${what} is not a Notion page reference: ${shown}. ${ACCEPTED_MAILOUT_REFERENCES}`);
  }
  return id;
}

/** The page of a Notion automation webhook body (`data` is the page object). */
export function mailoutIdOfNotionWebhook(data: { id?: unknown; url?: unknown }): string {
  return parseMailoutId(data.id ?? data.url, 'data.id');
}

/**
 * Name-based UUID (RFC 9562 version 8, SHA-256, as its appendix B.2 describes): the same
 * name always gives the same id. SQL twin: public.mailout_id_from_name.
 */
const NAME_NAMESPACE = Buffer.from('f541b80d99a34821af5fa93612669acc', 'hex');

export function mailoutIdFromName(name: string): string {
  const h = createHash('sha256').update(NAME_NAMESPACE).update(name, 'utf8').digest().subarray(0, 16);
  h[6] = (h[6]! & 0x0f) | 0x80;
  h[8] = (h[8]! & 0x3f) | 0x80;
  return dash(h.toString('hex'));
}

/**
 * The mailout id of a letter that is not a Notion page (a Markdown file, the demo): its
 * front matter `id:` (a UUID is taken as it is, any other text is hashed), else its file
 * name without the extension — the name earlier versions used as the id, so a file sent
 * before an upgrade is still the same mailout. The folder is left out on purpose: moving a
 * file must not make it a new mailout (that would send it again).
 */
export function mailoutIdForFile(opts: { frontMatterId?: string | null; path: string }): string {
  const declared = opts.frontMatterId?.trim();
  if (declared) return DASHED_ID.test(declared) || BARE_ID.test(declared) ? parseMailoutId(declared) : mailoutIdFromName(declared);
  return mailoutIdFromName(path.basename(opts.path).replace(/\.[^.]+$/, ''));
}

/**
 * A Notion database id from what a person pastes: the id (32 hex digits, dashed or not, any
 * case) or the database's link (`https://www.notion.so/<workspace>/<id>?v=<view>`), as the
 * canonical dashed lower-case UUID; null for anything else.
 */
export function parseNotionDatabaseId(reference: string): string | null {
  const input = reference.trim();
  const direct = bareId(input);
  if (direct) return dash(direct);
  const url = parseUrl(input);
  if (!url) return null;
  const m = /([0-9a-f]{32})$/i.exec((url.pathname.split('/').filter(Boolean).pop() ?? '').replace(/-/g, ''));
  return m ? dash(m[1]!) : null;
}
