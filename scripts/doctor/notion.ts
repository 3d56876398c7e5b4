import { type Client, isFullDatabase, isFullDataSource } from '@notionhq/client';
import { checkDataSourceRoles } from '../../lib/notion/schema';
import { errorText, fail, isNotFound, ok, type Check } from '../../lib/readiness/check';

/**
 * A Notion database is shared with the integration and its (first) data source has a property
 * for every role the reader or the write-back uses (found by role, lib/notion/schema; Notion
 * API 2025-09-03: properties live on the data source). Missing ones are named in the
 * database's own language.
 */
export async function checkNotionDatabase(
  notion: Client,
  input: { title: string; envVar: string; id: string | undefined; which: 'mailouts' | 'errors' },
): Promise<Check> {
  const name = `Notion ${input.title}`;
  const setup = `Run npm run setup:notion -- --parent <page> (it creates or fixes the database), then set ${input.envVar}.`;
  // The configuration gives the id in its canonical form (lib/config/ refuses anything else).
  const id = input.id;
  if (!id) return fail(name, `${input.envVar} is not set`, setup);
  try {
    const db = await notion.databases.retrieve({ database_id: id });
    const source = isFullDatabase(db) ? db.data_sources[0] : undefined;
    if (!source) return fail(name, `database ${id} has no data source the integration can read`, `Share the database with the integration (••• → Connections), or: ${setup}`);
    const ds = await notion.dataSources.retrieve({ data_source_id: source.id });
    const roles = checkDataSourceRoles(isFullDataSource(ds) ? (ds as never) : {}, input.which);
    if (roles.missing.length) {
      const list = roles.missing.map((p) => `${p.name} (${p.type}, missing)`);
      return fail(name, `database ${id} lacks ${list.join(', ')}`, 'Run npm run setup:notion (it reads both database ids from .env) to add what is missing, or fix the types by hand in Notion.');
    }
    return ok(name, `database ${id} is shared and has its ${Object.keys(roles.found).length} properties`);
  } catch (err) {
    if (isNotFound(err)) return fail(name, `database ${id} is not found or not shared with the integration`, 'Share it with the integration: open the database → ••• → Connections → add the integration.');
    return fail(name, `reading database ${id} failed: ${errorText(err)}`, 'Check NOTION_TOKEN (notion.so/profile/integrations).');
  }
}
