import type { Client } from '@notionhq/client';
import { rehostImages, type ImageStorage } from '../images';
import { readMailoutPage, type MailoutPage } from '../notion/read';
import { renderMailout, type RenderedMailout } from './index';

/**
 * The content step of a send (DESIGN §6 step 2) in one call: read the page, re-host its
 * Notion-hosted images, render once. Per recipient, call `personalise(rendered, …)` and
 * `buildSendEmailInput(…)`.
 */

export interface ContentOptions {
  storage?: ImageStorage;
  footerAddress?: string;
  listName?: string;
  /** Previews only: keep Notion-hosted images (with a warning) when no storage is configured. */
  allowNotionHostedUrls?: boolean;
  fetch?: typeof fetch;
}

export interface MailoutContent {
  page: MailoutPage;
  rendered: RenderedMailout;
  /** Reader and renderer warnings together (skipped blocks, dropped links). */
  warnings: string[];
}

export async function prepareNotionMailout(client: Client, pageIdOrUrl: string, options: ContentOptions = {}): Promise<MailoutContent> {
  const page = await readMailoutPage(client, pageIdOrUrl);
  return prepareMarkdownMailout(page, options);
}

/** The same pipeline from the Markdown stage (a page already read, or a local Markdown file). */
export async function prepareMarkdownMailout(
  page: Pick<MailoutPage, 'subject' | 'markdown'> & Partial<MailoutPage>,
  options: ContentOptions = {},
): Promise<MailoutContent> {
  const full: MailoutPage = { pageId: '', test: false, warnings: [], notionFileUrls: [], ...page };
  let markdown = full.markdown;
  const warnings = [...full.warnings];
  if (options.storage || !options.allowNotionHostedUrls) {
    markdown = (
      await rehostImages(markdown, {
        notionFileUrls: full.notionFileUrls,
        ...(options.storage ? { storage: options.storage } : {}),
        ...(options.fetch ? { fetch: options.fetch } : {}),
      })
    ).markdown;
  }
  const rendered = renderMailout({
    markdown,
    subject: full.subject,
    ...(full.preheader ? { preheader: full.preheader } : {}),
    ...(options.footerAddress ? { footerAddress: options.footerAddress } : {}),
    ...(options.listName ? { listName: options.listName } : {}),
    notionFileUrls: full.notionFileUrls,
    ...(options.allowNotionHostedUrls ? { allowNotionHostedUrls: true } : {}),
  });
  warnings.push(...rendered.warnings);
  return { page: { ...full, markdown }, rendered, warnings };
}
