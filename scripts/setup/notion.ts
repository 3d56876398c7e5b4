import { type Client, isFullDatabase, isFullDataSource, isNotionClientError, APIErrorCode } from '@notionhq/client';
import { AppError } from '../../lib/errors';
import {
  DATABASE_TITLES,
  DEFAULT_LANG,
  ERROR_PROPERTIES,
  findRoles,
  LANGS,
  MAILOUT_PROPERTIES,
  propertyDescription,
  STATUS_NAMES,
  type Lang,
  type PropertySpec,
  type StatusKey,
} from '../../lib/notion/schema';
import type { SetupStep } from './types';

/**
 * `npm run setup:notion`: creates the «Письма» and «Ошибки» databases (or, in English,
 * "Mailouts" and "Errors") under a page, or checks existing ones against
 * `lib/notion/schema.ts` and adds what is missing. Every property it creates or finds gets
 * its role marker in its description, so the executor finds it after any rename. A
 * database is checked in its own language (its property names say which).
 *
 * Notion API 2025-09-03: a database holds data sources and the properties live on the data
 * source, so a check is databases.retrieve → dataSources.retrieve, and a fix is one
 * dataSources.update per database. In dry-run mode only read calls are made.
 */

export type DatabaseKey = 'mailouts' | 'errors';

export const DATABASES: Record<DatabaseKey, { envVar: string; properties: PropertySpec[] }> = {
  mailouts: { envVar: 'NOTION_MAILOUTS_DATABASE_ID', properties: MAILOUT_PROPERTIES },
  errors: { envVar: 'NOTION_ERRORS_DATABASE_ID', properties: ERROR_PROPERTIES },
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
  /** Properties found by name or type that get their role marker (recorded unless dry run). */
  marked: string[];
}

export interface NotionSetupResult {
  dryRun: boolean;
  steps: SetupStep[];
  databases: Record<DatabaseKey, DatabaseReport>;
  /** False when something needs fixing by hand in Notion (a property of the wrong type, ...). */
  ok: boolean;
}

/** `lang`: the language of the databases setup creates (default: Russian). */
export type NotionSetupOptions = { dryRun: boolean; lang?: Lang } & (
  | { parentPageId: string; mailoutsDatabaseId?: undefined; errorsDatabaseId?: undefined }
  | { parentPageId?: undefined; mailoutsDatabaseId: string; errorsDatabaseId: string }
);

const SELECT_COLORS: Record<StatusKey, 'default' | 'gray' | 'blue' | 'purple' | 'yellow' | 'green' | 'orange' | 'red'> = {
  draft: 'gray',
  ready: 'blue',
  sending: 'yellow',
  sent: 'green',
  paused: 'orange',
  failed: 'red',
};

type PropertyConfig = Record<string, unknown>;

/** The create/update request body for one property of the schema, in `lang`, with its role marker. */
export function propertyConfig(spec: PropertySpec, lang: Lang): PropertyConfig {
  const description = propertyDescription(spec, lang);
  switch (spec.type) {
    case 'select':
      return { description, select: { options: (spec.options ?? []).map((key) => ({ name: STATUS_NAMES[key][lang], color: SELECT_COLORS[key] })) } };
    case 'number':
      return { description, number: { format: 'number' } };
    default:
      return { description, [spec.type]: {} };
  }
}

function describeSpec(spec: PropertySpec, lang: Lang): string {
  return `"${spec.names[lang]}" (${spec.type}${spec.options ? `: ${spec.options.map((k) => STATUS_NAMES[k][lang]).join(', ')}` : ''})`;
}

/** A database title setup would give `key`, in either language. */
function isTitleOf(key: DatabaseKey, title: string): boolean {
  return LANGS.some((l) => title.trim().toLowerCase() === DATABASE_TITLES[key][l].toLowerCase());
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

function emptyReport(key: DatabaseKey, title: string): DatabaseReport {
  return { key, title, created: false, missing: [], wrongType: [], missingOptions: [], marked: [] };
}

async function createDatabase(
  notion: Client,
  key: DatabaseKey,
  parentPageId: string,
  opts: { dryRun: boolean; lang: Lang },
  steps: SetupStep[],
): Promise<DatabaseReport> {
  const { properties } = DATABASES[key];
  const { dryRun, lang } = opts;
  const title = DATABASE_TITLES[key][lang];
  const report = emptyReport(key, title);
  const list = properties.map((p) => describeSpec(p, lang)).join(', ');
  if (dryRun) {
    steps.push({ kind: 'create', applied: false, message: `would create database "${title}" under page ${parentPageId} with ${properties.length} properties: ${list}` });
    return report;
  }
  const body = {
    parent: { type: 'page_id' as const, page_id: parentPageId },
    title: [{ type: 'text' as const, text: { content: title } }],
    is_inline: false,
    initial_data_source: {
      properties: Object.fromEntries(properties.map((p) => [p.names[lang], propertyConfig(p, lang)])),
    },
  } as Parameters<Client['databases']['create']>[0];
  const db = await call(`create the "${title}" database`, () => notion.databases.create(body));
  report.databaseId = db.id;
  report.created = true;
  if (isFullDatabase(db)) report.dataSourceId = db.data_sources[0]?.id;
  steps.push({ kind: 'create', applied: true, message: `created database "${title}" (${db.id}) with ${properties.length} properties: ${list}` });
  return report;
}

type ExistingProperty = {
  id: string;
  name: string;
  type: string;
  description?: string | null;
  select?: { options: { id: string; name: string }[] };
  status?: { options: { name: string }[] };
};

/** Merges `extra` into the update of one property (a select may get a marker and options). */
function addToUpdate(update: Record<string, PropertyConfig>, key: string, extra: PropertyConfig): void {
  update[key] = { ...(update[key] ?? {}), ...extra };
}

/** Status options the database lacks in either language, named in its language. */
function lackingOptions(spec: PropertySpec, prop: ExistingProperty, lang: Lang): { keys: StatusKey[]; names: string[] } {
  const have = (prop.type === 'status' ? prop.status?.options : prop.select?.options) ?? [];
  const keys = (spec.options ?? []).filter((k) => !have.some((h) => LANGS.some((l) => h.name.trim().toLowerCase() === STATUS_NAMES[k][l].toLowerCase())));
  return { keys, names: keys.map((k) => STATUS_NAMES[k][lang]) };
}

async function checkDatabase(
  notion: Client,
  key: DatabaseKey,
  databaseId: string,
  dryRun: boolean,
  steps: SetupStep[],
): Promise<DatabaseReport> {
  const { properties: specs } = DATABASES[key];
  const label = DATABASE_TITLES[key].en;
  const db = await call(`read the "${label}" database ${databaseId}`, () => notion.databases.retrieve({ database_id: databaseId }));
  if (!isFullDatabase(db)) {
    throw new AppError('upstream', `Notion returned only a partial "${label}" database ${databaseId}; share it with the integration.`);
  }
  const source = db.data_sources[0];
  if (!source) {
    throw new AppError('upstream', `The "${label}" database ${databaseId} has no data source; it may be a linked database. Use the original database.`);
  }
  const ds = await call(`read the "${label}" data source ${source.id}`, () => notion.dataSources.retrieve({ data_source_id: source.id }));
  if (!isFullDataSource(ds)) {
    throw new AppError('upstream', `Notion returned only a partial data source for "${label}"; share it with the integration.`);
  }
  const existing = ds.properties as unknown as Record<string, ExistingProperty>;
  const roles = findRoles(existing, specs);
  const { lang } = roles;
  const title = DATABASE_TITLES[key][lang];
  const report = emptyReport(key, title);
  report.databaseId = db.id;
  report.dataSourceId = source.id;
  if (db.data_sources.length > 1) {
    steps.push({
      kind: 'warning',
      applied: false,
      message: `"${title}" has ${db.data_sources.length} data sources; the executor uses the first, "${source.name}" (${source.id})`,
    });
  }

  const update: Record<string, PropertyConfig> = {};
  const changes: string[] = [];
  for (const gap of roles.missing) {
    const spec = specs.find((s) => s.role === gap.role)!;
    const clash = existing[gap.name];
    if (clash) {
      report.wrongType.push({ name: gap.name, expected: spec.type, actual: clash.type });
      continue;
    }
    report.missing.push(gap.name);
    update[gap.name] = propertyConfig(spec, lang);
    changes.push(`add ${describeSpec(spec, lang)}`);
  }
  for (const spec of specs) {
    const found = roles.found[spec.role];
    if (!found) continue;
    const prop = existing[found.name]!;
    if (found.by !== 'marker') {
      report.marked.push(found.name);
      addToUpdate(update, prop.id, { description: propertyDescription(spec, lang) });
      changes.push(`record the role of "${found.name}" (${spec.role}) in its description`);
    }
    if (!spec.options) continue;
    const lacking = lackingOptions(spec, prop, lang);
    if (lacking.names.length === 0) continue;
    report.missingOptions.push({ name: found.name, options: lacking.names });
    const quoted = lacking.names.map((o) => `"${o}"`).join(', ');
    if (prop.type === 'status') {
      steps.push({
        kind: 'warning',
        applied: false,
        message: `"${title}"."${found.name}" is a status property without the options ${quoted}; the API cannot add status options: add them in Notion`,
      });
      continue;
    }
    const options = [
      ...(prop.select?.options ?? []).map((o) => ({ id: o.id, name: o.name })),
      ...lacking.keys.map((k) => ({ name: STATUS_NAMES[k][lang], color: SELECT_COLORS[k] })),
    ];
    addToUpdate(update, prop.id, { select: { options } });
    changes.push(`add the options ${quoted} to "${found.name}"`);
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
    steps.push({ kind: 'update', applied: true, message: `${c.replace(/^add /, 'added ').replace(/^record /, 'recorded ')} on "${title}"` });
  }
  return report;
}

export async function setupNotion(notion: Client, options: NotionSetupOptions): Promise<NotionSetupResult> {
  const steps: SetupStep[] = [];
  const databases = {} as Record<DatabaseKey, DatabaseReport>;
  const keys: DatabaseKey[] = ['mailouts', 'errors'];
  const lang = options.lang ?? DEFAULT_LANG;

  if (options.parentPageId !== undefined) {
    const parent = options.parentPageId;
    const children = await listChildDatabases(notion, parent);
    for (const key of keys) {
      const title = DATABASE_TITLES[key][lang];
      const matches = children.filter((c) => isTitleOf(key, c.title));
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
        databases[key] = await createDatabase(notion, key, parent, { dryRun: options.dryRun, lang }, steps);
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
