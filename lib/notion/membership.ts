import type { Client } from '@notionhq/client';
import type { Config } from '../config';
import { AppError } from '../errors';
import { notionError } from './client';

/**
 * Permission to send is membership in the Mailouts database (NOTION_MAILOUTS_DATABASE_ID):
 * a page is sent only when its parent is that database or one of its data sources. The
 * integration can read many more pages than the editors mean to mail; none of them is sent,
 * and the refusal never reveals what the page says.
 *
 * The page's parent (Notion API 2025-09-03, https://developers.notion.com/reference/parent-object):
 * a database row has `{type: "data_source_id", data_source_id, database_id}`; before that
 * version, `{type: "database_id", database_id}`. Anything else (`page_id`, `block_id`,
 * `workspace`) is not a row of any database.
 */

type Json = Record<string, any>;

const SETTING = 'NOTION_MAILOUTS_DATABASE_ID';

/** The configured Mailouts database; refuses, naming the variable, when it is not set. */
export function mailoutsDatabaseId(notion: Pick<Config['notion'], 'mailoutsDatabaseId'>): string {
  if (!notion.mailoutsDatabaseId) {
    throw new AppError(
      'config',
      `${SETTING} is not set: only pages of the Mailouts database are sent, so no Notion page can be. Set it to the Mailouts database id (\`npm run setup:notion\` prints it).`,
    );
  }
  return notion.mailoutsDatabaseId;
}

export type Membership = 'member' | 'not_member' | 'ask_data_sources';

/** The rule, on the retrieved page: `dataSourceIds` (the database's, when known) settle a parent that names only its data source. */
export function membershipOf(page: Json, databaseId: string, dataSourceIds?: readonly string[]): Membership {
  const parent = (page?.parent ?? {}) as Json;
  if (parent.type === 'database_id') return parent.database_id === databaseId ? 'member' : 'not_member';
  if (parent.type !== 'data_source_id') return 'not_member';
  if (parent.database_id === databaseId) return 'member';
  if (dataSourceIds) return dataSourceIds.includes(parent.data_source_id) ? 'member' : 'not_member';
  return parent.database_id ? 'not_member' : 'ask_data_sources';
}

function notAMailout(pageId: string): AppError {
  return new AppError(
    'forbidden',
    `The page ${pageId} is not in the Mailouts database (${SETTING}), and only its pages are sent: nothing was claimed or sent. Move the page into the Mailouts database, or set ${SETTING} to the database it belongs to.`,
  );
}

async function dataSourcesOf(client: Client, databaseId: string): Promise<string[]> {
  try {
    const db = (await client.databases.retrieve({ database_id: databaseId })) as Json;
    return Array.isArray(db.data_sources) ? db.data_sources.map((d: Json) => String(d.id)) : [];
  } catch (err) {
    throw notionError(err, `The Mailouts database ${databaseId} (${SETTING})`);
  }
}

/** Refuses (403) a retrieved page that is not a row of the Mailouts database. */
export async function admitMailoutPage(client: Client, databaseId: string, page: Json): Promise<void> {
  let verdict = membershipOf(page, databaseId);
  if (verdict === 'ask_data_sources') verdict = membershipOf(page, databaseId, await dataSourcesOf(client, databaseId));
  if (verdict !== 'member') throw notAMailout(String(page?.id ?? 'asked for'));
}

/** The check for a page about to be read (lib/notion/read calls it right after retrieving the page). */
export function mailoutPageGate(client: Client, notion: Pick<Config['notion'], 'mailoutsDatabaseId'>): (page: Json) => Promise<void> {
  const databaseId = mailoutsDatabaseId(notion);
  return (page) => admitMailoutPage(client, databaseId, page);
}

/** A continuation sends the stored letter: one request says whether its page is still a mailout. */
export async function admitStoredMailoutPage(client: Client, notion: Pick<Config['notion'], 'mailoutsDatabaseId'>, pageId: string): Promise<void> {
  const databaseId = mailoutsDatabaseId(notion);
  let page: Json;
  try {
    page = (await client.pages.retrieve({ page_id: pageId })) as Json;
  } catch (err) {
    throw notionError(err, `The page ${pageId}`);
  }
  await admitMailoutPage(client, databaseId, page);
}
