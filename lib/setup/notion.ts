import { type Client, extractNotionId, isFullDatabase, isFullDataSource, isNotionClientError, APIErrorCode } from '@notionhq/client';
import { AppError } from '../errors';
import { ERROR_PROPERTIES, MAILOUT_PROPERTIES, type PropertySpec } from '../notion/schema';
import type { SetupStep } from './types';

/**
 * `npm run setup:notion`: creates the "Mailouts" and "Errors" databases under a page, or
 * checks existing ones against `lib/notion/schema.ts` and adds what is missing.
 *
 * Notion API 2025-09-03: a database holds data sources and the properties live on the data
 * source, so a check is databases.retrieve → dataSources.retrieve, and a fix is one
 * dataSources.update per database. In dry-run mode only read calls are made.
 */

export type DatabaseKey = 'mailouts' | 'errors';

export const DATABASES: Record<DatabaseKey, { title: string; envVar: string; properties: PropertySpec[] }> = {
  mailouts: { title: 'Mailouts', envVar: 'NOTION_MAILOUTS_DATABASE_ID', properties: MAILOUT_PROPERTIES },
  errors: { title: 'Errors', envVar: 'NOTION_ERRORS_DATABASE_ID', properties: ERROR_PROPERTIES },
};

export type { SetupStep };

export interface WrongType {
  name: string;
  expected: string;
  actual: string;
}

export interface DatabaseReport {
  key: DatabaseKey;
  title: string;
  /** Undefined only in a dry run that would create the database. */
  databaseId?: string;
  dataSourceId?: string;
  created: boolean;
  /** Properties the executor needs that the data source lacks, by name. */
  missing: string[];
  wrongType: WrongType[];
  /** Select options the executor writes that the property lacks. */
  missingOptions: { name: string; options: string[] }[];
  /** The title property exists under another name (renamed unless dry run). */
  titleRenamedFrom?: string;
}

export interface NotionSetupResult {
  dryRun: boolean;
  steps: SetupStep[];
  databases: Record<DatabaseKey, DatabaseReport>;
  /** False when something needs fixing by hand in Notion (a property of the wrong type, ...). */
  ok: boolean;
}

export type NotionSetupOptions =
  | { dryRun: boolean; parentPageId: string; mailoutsDatabaseId?: undefined; errorsDatabaseId?: undefined }
  | { dryRun: boolean; parentPageId?: undefined; mailoutsDatabaseId: string; errorsDatabaseId: string };

const SELECT_COLORS: Record<string, 'default' | 'gray' | 'blue' | 'purple' | 'yellow' | 'green' | 'orange' | 'red'> = {
  Draft: 'gray',
  Ready: 'blue',
  Sending: 'yellow',
  Sent: 'green',
  Paused: 'orange',
  Failed: 'red',
};

/** A page or database id from a bare id (with or without dashes) or a notion.so URL. */
export function parseNotionId(input: string): string | undefined {
  const trimmed = input.trim();
  if (!trimmed) return undefined;
  const id = extractNotionId(trimmed);
  return id ?? undefined;
}

type PropertyConfig = Record<string, unknown>;

/** The create/update request body for one property of the schema. */
export function propertyConfig(spec: PropertySpec): PropertyConfig {
  switch (spec.type) {
    case 'select':
      return { select: { options: (spec.options ?? []).map((name) => ({ name, color: SELECT_COLORS[name] ?? 'default' })) } };
    case 'number':
      return { number: { format: 'number' } };
    default:
      return { [spec.type]: {} };
  }
}

function describeSpec(spec: PropertySpec): string {
  return `"${spec.name}" (${spec.type}${spec.options ? `: ${spec.options.join(', ')}` : ''})`;
}

function sameTitle(a: string, b: string): boolean {
  return a.trim().toLowerCase() === b.trim().toLowerCase();
}

/** Turns Notion client errors into messages that say what to do. */
function notionFailure(action: string, err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (isNotionClientError(err)) {
    const code = (err as { code?: string }).code;
    let hint = '';
    if (code === APIErrorCode.ObjectNotFound) {
      hint = ' Share the page (or database) with the integration: in Notion, ••• → Connections → add your integration.';
    } else if (code === APIErrorCode.Unauthorized) {
      hint = ' NOTION_TOKEN is not a valid integration secret.';
    } else if (code === APIErrorCode.RestrictedResource) {
      hint = ' Give the integration the "Read content", "Update content" and "Insert content" capabilities.';
    }
    return new AppError('upstream', `Notion refused to ${action}: ${err.message}.${hint}`, { cause: err });
  }
  return new AppError('upstream', `Could not ${action}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

async function call<T>(action: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw notionFailure(action, err);
  }
}

/** Child databases directly under a page, by title (all pages of the listing). */
async function listChildDatabases(notion: Client, pageId: string): Promise<{ id: string; title: string }[]> {
  const found: { id: string; title: string }[] = [];
  let cursor: string | undefined;
  do {
    const page = await call(`list the children of page ${pageId}`, () =>
      notion.blocks.children.list({ block_id: pageId, page_size: 100, ...(cursor ? { start_cursor: cursor } : {}) }),
    );
    for (const block of page.results) {
      if ('type' in block && block.type === 'child_database' && !block.in_trash) {
        found.push({ id: block.id, title: block.child_database.title });
      }
    }
    cursor = page.has_more && page.next_cursor ? page.next_cursor : undefined;
  } while (cursor);
  return found;
}

function emptyReport(key: DatabaseKey): DatabaseReport {
  return { key, title: DATABASES[key].title, created: false, missing: [], wrongType: [], missingOptions: [] };
}

async function createDatabase(
  notion: Client,
  key: DatabaseKey,
  parentPageId: string,
  dryRun: boolean,
  steps: SetupStep[],
): Promise<DatabaseReport> {
  const { title, properties } = DATABASES[key];
  const report = emptyReport(key);
  const list = properties.map(describeSpec).join(', ');
  if (dryRun) {
    steps.push({ kind: 'create', applied: false, message: `would create database "${title}" under page ${parentPageId} with ${properties.length} properties: ${list}` });
    return report;
  }
  const body = {
    parent: { type: 'page_id' as const, page_id: parentPageId },
    title: [{ type: 'text' as const, text: { content: title } }],
    is_inline: false,
    initial_data_source: {
      properties: Object.fromEntries(properties.map((p) => [p.name, propertyConfig(p)])),
    },
  } as Parameters<Client['databases']['create']>[0];
  const db = await call(`create the "${title}" database`, () => notion.databases.create(body));
  report.databaseId = db.id;
  report.created = true;
  if (isFullDatabase(db)) report.dataSourceId = db.data_sources[0]?.id;
  steps.push({ kind: 'create', applied: true, message: `created database "${title}" (${db.id}) with ${properties.length} properties: ${list}` });
  return report;
}

async function checkDatabase(
  notion: Client,
  key: DatabaseKey,
  databaseId: string,
  dryRun: boolean,
  steps: SetupStep[],
): Promise<DatabaseReport> {
  const { title, properties: specs } = DATABASES[key];
  const report = emptyReport(key);
  report.databaseId = databaseId;

  const db = await call(`read the "${title}" database ${databaseId}`, () => notion.databases.retrieve({ database_id: databaseId }));
  if (!isFullDatabase(db)) {
    throw new AppError('upstream', `Notion returned only a partial "${title}" database ${databaseId}; share it with the integration.`);
  }
  report.databaseId = db.id;
  const source = db.data_sources[0];
  if (!source) {
    throw new AppError('upstream', `The "${title}" database ${databaseId} has no data source; it may be a linked database. Use the original database.`);
  }
  if (db.data_sources.length > 1) {
    steps.push({
      kind: 'warning',
      applied: false,
      message: `"${title}" has ${db.data_sources.length} data sources; the executor uses the first, "${source.name}" (${source.id})`,
    });
  }
  report.dataSourceId = source.id;

  const ds = await call(`read the "${title}" data source ${source.id}`, () => notion.dataSources.retrieve({ data_source_id: source.id }));
  if (!isFullDataSource(ds)) {
    throw new AppError('upstream', `Notion returned only a partial data source for "${title}"; share it with the integration.`);
  }
  const existing = ds.properties as Record<string, { id: string; name: string; type: string; select?: { options: { id: string; name: string; color?: string }[] }; status?: { options: { name: string }[] } }>;

  const update: Record<string, PropertyConfig> = {};
  const changes: string[] = [];

  for (const spec of specs) {
    if (spec.type === 'title') {
      const titleProp = Object.values(existing).find((p) => p.type === 'title');
      if (titleProp && titleProp.name !== spec.name) {
        if (existing[spec.name]) {
          report.wrongType.push({ name: spec.name, expected: 'title', actual: existing[spec.name]!.type });
        } else {
          report.titleRenamedFrom = titleProp.name;
          update[titleProp.id] = { name: spec.name };
          changes.push(`rename the title property "${titleProp.name}" to "${spec.name}"`);
        }
      }
      continue;
    }
    const prop = existing[spec.name];
    if (!prop) {
      report.missing.push(spec.name);
      update[spec.name] = propertyConfig(spec);
      changes.push(`add ${describeSpec(spec)}`);
      continue;
    }
    // A `status` property named Status is read and written as well (see lib/notion/schema.ts).
    const statusInsteadOfSelect = spec.type === 'select' && prop.type === 'status';
    if (prop.type !== spec.type && !statusInsteadOfSelect) {
      report.wrongType.push({ name: spec.name, expected: spec.type, actual: prop.type });
      continue;
    }
    if (spec.options) {
      const have = (statusInsteadOfSelect ? prop.status?.options : prop.select?.options) ?? [];
      const lacking = spec.options.filter((o) => !have.some((h) => h.name === o));
      if (lacking.length) {
        report.missingOptions.push({ name: spec.name, options: lacking });
        if (statusInsteadOfSelect) {
          steps.push({
            kind: 'warning',
            applied: false,
            message: `"${title}"."${spec.name}" is a status property without the options ${lacking.map((o) => `"${o}"`).join(', ')}; the API cannot add status options: add them in Notion`,
          });
        } else {
          const options = [
            ...(prop.select?.options ?? []).map((o) => ({ id: o.id, name: o.name })),
            ...lacking.map((name) => ({ name, color: SELECT_COLORS[name] ?? 'default' })),
          ];
          update[prop.id] = { select: { options } };
          changes.push(`add the options ${lacking.map((o) => `"${o}"`).join(', ')} to "${spec.name}"`);
        }
      }
    }
  }

  for (const wrong of report.wrongType) {
    steps.push({
      kind: 'problem',
      applied: false,
      message: `"${title}"."${wrong.name}" is a ${wrong.actual} property; the executor needs ${wrong.expected}. Change its type in Notion (or rename it and run again to add a new one)`,
    });
  }

  if (changes.length === 0) {
    if (report.wrongType.length === 0) {
      steps.push({ kind: 'ok', applied: false, message: `"${title}" (${report.databaseId}) has every property the executor needs` });
    }
    return report;
  }
  if (report.missing.length) {
    steps.push({ kind: 'warning', applied: false, message: `"${title}" is missing ${report.missing.map((n) => `"${n}"`).join(', ')}` });
  }
  if (dryRun) {
    for (const c of changes) steps.push({ kind: 'update', applied: false, message: `would ${c} on "${title}"` });
    return report;
  }
  await call(`update the "${title}" data source`, () =>
    notion.dataSources.update({ data_source_id: source.id, properties: update } as Parameters<Client['dataSources']['update']>[0]),
  );
  for (const c of changes) {
    steps.push({ kind: 'update', applied: true, message: `${c.replace(/^add /, 'added ').replace(/^rename /, 'renamed ')} on "${title}"` });
  }
  return report;
}

export async function setupNotion(notion: Client, options: NotionSetupOptions): Promise<NotionSetupResult> {
  const steps: SetupStep[] = [];
  const databases = {} as Record<DatabaseKey, DatabaseReport>;
  const keys: DatabaseKey[] = ['mailouts', 'errors'];

  if (options.parentPageId !== undefined) {
    const parent = options.parentPageId;
    const children = await listChildDatabases(notion, parent);
    for (const key of keys) {
      const { title } = DATABASES[key];
      const matches = children.filter((c) => sameTitle(c.title, title));
      if (matches.length > 1) {
        steps.push({
          kind: 'warning',
          applied: false,
          message: `${matches.length} databases titled "${title}" under the page; checking the first (${matches[0]!.id})`,
        });
      }
      const match = matches[0];
      if (match) {
        steps.push({ kind: 'ok', applied: false, message: `found database "${title}" (${match.id}) under the page` });
        databases[key] = await checkDatabase(notion, key, match.id, options.dryRun, steps);
      } else {
        databases[key] = await createDatabase(notion, key, parent, options.dryRun, steps);
      }
    }
  } else {
    databases.mailouts = await checkDatabase(notion, 'mailouts', options.mailoutsDatabaseId, options.dryRun, steps);
    databases.errors = await checkDatabase(notion, 'errors', options.errorsDatabaseId, options.dryRun, steps);
  }

  return { dryRun: options.dryRun, steps, databases, ok: !steps.some((s) => s.kind === 'problem') };
}

/** The lines to put in .env / the Vercel dashboard. */
export function envLines(result: NotionSetupResult): string[] {
  return (Object.keys(DATABASES) as DatabaseKey[]).map((key) => {
    const id = result.databases[key].databaseId;
    return `${DATABASES[key].envVar}=${id ?? '<created on a run without --dry-run>'}`;
  });
}

/** What the user still has to do by hand in Notion. */
export function notionReminders(appBaseUrl?: string): string[] {
  const base = appBaseUrl ? appBaseUrl.replace(/\/+$/, '') : '${APP_BASE_URL}';
  return [
    'Share the page (and so both databases) with the integration: ••• → Connections → your integration.',
    `Add a button or automation to the Mailouts database with the action "Send webhook" to ${base}/api/send-mailout`,
    '  with the custom header  Authorization: Bearer <EXECUTOR_SHARED_SECRET>  (the value of EXECUTOR_SHARED_SECRET; never commit it).',
  ];
}
