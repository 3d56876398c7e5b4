import { APIResponseError, type Client } from '@notionhq/client';
import { AppError } from '../errors';
import { log } from '../log';
import { findRoles, type PropertySpec, type RoleReport, type SchemaProperty } from './schema';

/**
 * The data sources behind our databases (Notion API 2025-09-03: a database holds data
 * sources; properties and rows live on a data source).
 */

type Json = Record<string, any>;

/** A retrieved data source: its id and its properties (with their descriptions). */
export interface DataSourceSchema {
  id: string;
  properties: Record<string, SchemaProperty & { select?: { options?: { name: string }[] }; status?: { options?: { name: string }[] } }>;
}

const unreadable = (err: unknown) =>
  APIResponseError.isAPIResponseError(err) && (err.code === 'object_not_found' || err.code === 'restricted_resource');

/** The data source a page is a row of, or null when the page is in none, or the integration cannot read it. */
export async function dataSourceOfPage(client: Client, page: Json): Promise<DataSourceSchema | null> {
  const id: string | undefined = page.parent?.type === 'data_source_id' ? page.parent.data_source_id : undefined;
  if (!id) return null;
  try {
    const ds = (await client.dataSources.retrieve({ data_source_id: id })) as Json;
    return { id: ds.id, properties: ds.properties ?? {} };
  } catch (err) {
    if (!unreadable(err)) throw err;
    log.warn('notion.data_source_unreadable', { data_source_id: id, page_id: page.id, note: 'roles found from the page alone' });
    return null;
  }
}

/**
 * The roles a page's properties play: the page's properties (current names, ids, types)
 * with the descriptions its data source gives them, matched by id.
 */
export function pageRoles<R extends string>(page: Json, schema: DataSourceSchema | null, specs: PropertySpec<R>[]): RoleReport<R> {
  const byId = new Map(Object.values(schema?.properties ?? {}).map((p) => [p.id, p]));
  const properties: Record<string, SchemaProperty> = {};
  for (const [name, p] of Object.entries((page.properties ?? {}) as Record<string, Json>)) {
    properties[name] = { id: p.id, type: p.type, description: byId.get(p.id)?.description ?? null };
  }
  return findRoles(properties, specs);
}

/**
 * The data source of a database (its first), where our rows are created. An id copied from
 * Notion's "Manage data sources" (a data source's own id) is taken as it is.
 */
export async function dataSourceOfDatabase(client: Client, databaseId: string, what: string): Promise<DataSourceSchema> {
  let db: Json;
  try {
    db = (await client.databases.retrieve({ database_id: databaseId })) as Json;
  } catch (err) {
    if (!APIResponseError.isAPIResponseError(err) || err.code !== 'object_not_found') throw err;
    const ds = (await client.dataSources.retrieve({ data_source_id: databaseId }).catch(() => Promise.reject(err))) as Json;
    return { id: ds.id, properties: ds.properties ?? {} };
  }
  const first = (db.data_sources as { id: string }[] | undefined)?.[0];
  if (!first) throw new AppError('upstream', `${what} ${databaseId} has no data source; it may be a linked database. Use the original database.`);
  const ds = (await client.dataSources.retrieve({ data_source_id: first.id })) as Json;
  return { id: ds.id, properties: ds.properties ?? {} };
}
