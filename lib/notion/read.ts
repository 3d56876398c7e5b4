import type { Client } from '@notionhq/client';
import { AppError } from '../errors';
import { log } from '../log';
import { notionError, parseNotionPageId } from './client';
import { dataSourceOfPage, pageRoles } from './data-source';
import { clientChildrenSource, NotionMarkdownConverter, type ChildrenSource } from './markdown';
import { MAILOUT_PROPERTIES, type MailoutRole, type RoleReport } from './schema';

/**
 * Reads a mailout page: its properties (subject, preheader, test mode, status) and its body
 * as Markdown. Properties are found by role (`lib/notion/schema.ts`), whatever their names.
 */

export interface MailoutPage {
  pageId: string;
  subject: string;
  preheader?: string;
  test: boolean;
  status?: string;
  markdown: string;
  /** Blocks skipped (and why); shown to the operator, never fatal. */
  warnings: string[];
  /** Files uploaded to Notion that the body references; they must be re-hosted before sending. */
  notionFileUrls: string[];
}

type Json = Record<string, any>;

function plainText(items: unknown): string {
  return Array.isArray(items) ? items.map((t: Json) => String(t?.plain_text ?? '')).join('') : '';
}

/** The text of a title / rich_text / formula(string) / select property, if any. */
function propertyText(prop: Json | undefined): string | undefined {
  if (!prop) return undefined;
  switch (prop.type) {
    case 'title':
      return plainText(prop.title);
    case 'rich_text':
      return plainText(prop.rich_text);
    case 'formula':
      return prop.formula?.type === 'string' ? (prop.formula.string ?? undefined) : undefined;
    case 'select':
      return prop.select?.name ?? undefined;
    case 'status':
      return prop.status?.name ?? undefined;
    default:
      return undefined;
  }
}

function roleValue(properties: Json, roles: RoleReport<MailoutRole>, role: MailoutRole): Json | undefined {
  const found = roles.found[role];
  return found ? properties[found.name] : undefined;
}

/** Without its Test checkbox a page cannot say it is a test, so it is never sent at all. */
function testCheckbox(id: string, properties: Json, roles: RoleReport<MailoutRole>): boolean {
  const prop = roleValue(properties, roles, 'test');
  if (prop?.type === 'checkbox') return Boolean(prop.checkbox);
  const name = roles.missing.find((m) => m.role === 'test')?.name ?? 'Test';
  throw new AppError(
    'unprocessable',
    `The page ${id} has no test checkbox ("${name}"), so a test cannot be told from a live send: nothing was sent. ` +
      'Add the checkbox to the database (npm run setup:notion checks it and adds what is missing).',
  );
}

export interface ReadOptions {
  /** Where block children come from; defaults to the client's paginated `blocks.children.list`. */
  source?: ChildrenSource;
  /** Refuses a page that may not be sent (lib/notion/membership), before anything of it is read. */
  admit?: (page: Json) => Promise<void>;
}

/** The page object, refused (before anything else of it is read) when it may not be sent or is in the trash. */
async function retrieveMailoutPage(client: Client, id: string, admit: ReadOptions['admit']): Promise<Json> {
  let page: Json;
  try {
    page = (await client.pages.retrieve({ page_id: id })) as Json;
  } catch (err) {
    throw notionError(err, `The page ${id}`);
  }
  if (page.object !== 'page' || !page.properties) {
    throw new AppError('not_found', `The page ${id} could not be read: the integration sees only part of it; share the page with the integration.`);
  }
  await admit?.(page);
  if (page.in_trash || page.archived) {
    throw new AppError('unprocessable', `The page ${id} is in the Notion trash; restore it before sending.`);
  }
  return page;
}

async function schemaOfPage(client: Client, page: Json) {
  try {
    return await dataSourceOfPage(client, page);
  } catch (err) {
    throw notionError(err, `The database of page ${page.id}`);
  }
}

/**
 * What a send must know before it answers (lib/send/webhook.ts): that the page may be sent and
 * what its Test checkbox says, without reading its body. A page with one checkbox needs only
 * `pages.retrieve` (the only checkbox plays the test role); with several, its data source's
 * role markers say which is the test (one more request).
 */
export async function readPageMode(client: Client, pageId: string, options: Pick<ReadOptions, 'admit'> = {}): Promise<{ test: boolean }> {
  const id = parseNotionPageId(pageId);
  const page = await retrieveMailoutPage(client, id, options.admit);
  const properties = page.properties as Json;
  const checkboxes = Object.values(properties).filter((p: Json) => p?.type === 'checkbox').length;
  const schema = checkboxes > 1 ? await schemaOfPage(client, page) : null;
  return { test: testCheckbox(id, properties, pageRoles(page, schema, MAILOUT_PROPERTIES)) };
}

/** Reads a mailout page. `pageId` may be an id or a Notion URL. */
export async function readMailoutPage(client: Client, pageId: string, options: ReadOptions = {}): Promise<MailoutPage> {
  const id = parseNotionPageId(pageId);
  const started = Date.now();
  const page = await retrieveMailoutPage(client, id, options.admit);
  const properties = page.properties as Json;
  const roles = pageRoles(page, await schemaOfPage(client, page), MAILOUT_PROPERTIES);
  const test = testCheckbox(id, properties, roles);
  const title = propertyText(roleValue(properties, roles, 'title'))?.trim() ?? '';
  const subjectProp = propertyText(roleValue(properties, roles, 'subject'))?.trim();
  const subject = (subjectProp || title).replace(/\s+/g, ' ');
  if (!subject) {
    throw new AppError('unprocessable', 'The mailout has no subject: give the page a title (or fill in its Subject property).');
  }
  const preheader = propertyText(roleValue(properties, roles, 'preheader'))?.replace(/\s+/g, ' ').trim() || undefined;
  const status = propertyText(roleValue(properties, roles, 'status'))?.trim() || undefined;

  const converter = new NotionMarkdownConverter(client, options.source ?? clientChildrenSource(client));
  let body;
  try {
    body = await converter.convert(id);
  } catch (err) {
    throw notionError(err, `The content of page ${id}`);
  }
  log.info('notion.page_read', {
    pageId: id,
    ms: Date.now() - started,
    markdownChars: body.markdown.length,
    warnings: body.warnings.length,
    notionFiles: body.notionFileUrls.length,
  });
  return {
    pageId: id,
    subject,
    ...(preheader ? { preheader } : {}),
    test,
    ...(status ? { status } : {}),
    markdown: body.markdown,
    warnings: body.warnings,
    notionFileUrls: body.notionFileUrls,
  };
}
