import { z } from 'zod';
import { parseNotionDatabaseId } from '../mailout-id';
import type { Values } from './env';
import { optionalHttpUrl, optionalSecret } from './parsers';

/** A Notion database (or data source) id or link, as its canonical dashed lower-case id. */
const notionDatabaseId = z
  .string()
  .transform((v, ctx) => parseNotionDatabaseId(v) ?? (ctx.addIssue({ code: 'custom', message: 'is not a Notion database id or link' }), v))
  .optional();

/** Notion: the integration's secret and the two databases. */
export const notionVariables = {
  NOTION_TOKEN: optionalSecret(
    8,
    'is too short for a Notion integration secret (it starts with ntn_ or secret_; copy it from notion.so/profile/integrations → your integration → Internal Integration Secret)',
  ),
  NOTION_MAILOUTS_DATABASE_ID: notionDatabaseId.describe('the Mailouts database: only its pages are ever sent (`npm run setup:notion` prints it)'),
  NOTION_ERRORS_DATABASE_ID: notionDatabaseId,
  NOTION_BASE_URL: optionalHttpUrl,
};

export interface NotionConfig {
  token?: string;
  mailoutsDatabaseId?: string;
  errorsDatabaseId?: string;
  baseUrl?: string;
}

export function notionOf(env: Values<typeof notionVariables>): NotionConfig {
  return {
    token: env.NOTION_TOKEN,
    mailoutsDatabaseId: env.NOTION_MAILOUTS_DATABASE_ID,
    errorsDatabaseId: env.NOTION_ERRORS_DATABASE_ID,
    baseUrl: env.NOTION_BASE_URL,
  };
}
