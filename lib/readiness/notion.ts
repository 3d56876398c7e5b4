import { type Client, isFullDatabase, isFullDataSource } from '@notionhq/client';
import { parseNotionDatabaseId } from '../mailout-id';
import { errorText, fail, isNotFound, ok, type Check } from './check';

/** What the check needs of a property: the executor reads or writes it by this name and type. */
export interface RequiredProperty {
  name: string;
  type: string;
}

/**
 * A Notion database is shared with the integration and its (first) data source has every
 * `required` property with its type (Notion API 2025-09-03: properties live on the data source).
 */
export async function checkNotionDatabase(
  notion: Client,
  input: { title: string; envVar: string; id: string | undefined; required: RequiredProperty[] },
): Promise<Check> {
  const name = `Notion ${input.title}`;
  const setup = `Run npm run setup:notion -- --parent <page> (it creates or fixes the database), then set ${input.envVar}.`;
  const id = input.id ? (parseNotionDatabaseId(input.id) ?? undefined) : undefined;
  if (!input.id) return fail(name, `${input.envVar} is not set`, setup);
  if (!id) return fail(name, `${input.envVar} "${input.id}" is not a Notion database id`, setup);
  try {
    const db = await notion.databases.retrieve({ database_id: id });
    const source = isFullDatabase(db) ? db.data_sources[0] : undefined;
    if (!source) return fail(name, `database ${id} has no data source the integration can read`, `Share the database with the integration (••• → Connections), or: ${setup}`);
    const ds = await notion.dataSources.retrieve({ data_source_id: source.id });
    const properties = isFullDataSource(ds) ? (ds.properties as Record<string, { type: string }>) : {};
    const wrong = input.required.filter((p) => properties[p.name]?.type !== p.type && !(p.type === 'select' && properties[p.name]?.type === 'status'));
    if (wrong.length) {
      const list = wrong.map((p) => (properties[p.name] ? `${p.name} (${properties[p.name]!.type}, wants ${p.type})` : `${p.name} (${p.type}, missing)`));
      return fail(name, `database ${id} lacks ${list.join(', ')}`, 'Run npm run setup:notion (it reads both database ids from .env) to add what is missing, or fix the types by hand in Notion.');
    }
    return ok(name, `database ${id} is shared and has its ${input.required.length} properties`);
  } catch (err) {
    if (isNotFound(err)) return fail(name, `database ${id} is not found or not shared with the integration`, 'Share it with the integration: open the database → ••• → Connections → add the integration.');
    return fail(name, `reading database ${id} failed: ${errorText(err)}`, 'Check NOTION_TOKEN (notion.so/profile/integrations).');
  }
}
