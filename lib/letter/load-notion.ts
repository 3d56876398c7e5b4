import { AppError } from '../errors';
import { readMailoutPage, type MailoutPage } from '../notion/read';
import { renderLetter, type LetterContent, type LetterOptions } from './render-letter';
import type { LoadedLetter } from './types';

/** A letter written as a Notion page: its properties and body read (lib/notion/read), its uploaded images re-hosted when rendered. */

/** A Notion page as a letter's content. */
export function pageContent(page: MailoutPage): LetterContent {
  return {
    mailoutId: page.pageId,
    subject: page.subject,
    ...(page.preheader ? { preheader: page.preheader } : {}),
    markdown: page.markdown,
    test: page.test,
    ...(page.status ? { status: page.status } : {}),
    notionFileUrls: page.notionFileUrls,
    warnings: page.warnings,
    origin: 'notion',
  };
}

/** Reads a Notion page (checked by `options.admitPage` when given) and renders it. */
export async function loadNotionLetter(pageId: string, options: LetterOptions = {}): Promise<LoadedLetter> {
  if (!options.notion) throw new AppError('config', 'Notion is not configured: set NOTION_TOKEN to send or preview Notion pages.');
  const page = await readMailoutPage(options.notion, pageId, options.admitPage ? { admit: options.admitPage } : {});
  return renderLetter(pageContent(page), options);
}
