import type { Client } from '@notionhq/client';
import { AppError } from '../errors';
import { findNotionHostedUrls, probeImageSizes, rehostImages, type ImageStorage } from '../images';
import { renderMailout } from '../render';
import { imageUrls, lex } from '../render/markdown-tokens';
import type { ImageSize, LoadedLetter, RenderedMailout } from './types';

/**
 * The one content pipeline, from the Markdown stage on. Every way a letter goes out or is
 * looked at (the webhook's send, a test send, a dry run, `npm run send`, the demo, `npm run
 * preview`) loads it through lib/letter (`loadLetter`):
 *
 *   a letter source (a Notion page: ./load-notion, or a Markdown file: ./load-file)
 *     → its subject, preheader and Markdown
 *     → images uploaded to Notion re-hosted, every image's size read (here)
 *     → one render (lib/render, pure) → the letter a mailout stores at its claim
 *
 * Per recipient, only `personalise` and the message builder (lib/message) follow.
 */

/** What a letter is made of before it is rendered. */
export interface LetterContent {
  mailoutId: string;
  subject: string;
  preheader?: string;
  markdown: string;
  /** The page's Test checkbox (a file: never). */
  test: boolean;
  status?: string;
  /** Files uploaded to Notion that the page references (they must be re-hosted). */
  notionFileUrls: string[];
  warnings: string[];
  origin: LoadedLetter['origin'];
}

export interface LetterOptions {
  /** Needed for a Notion page. */
  notion?: Client | null;
  /** Where images uploaded to Notion are re-hosted. */
  storage?: ImageStorage;
  /** Previews only: keep Notion-hosted images (with a warning) when no storage is configured. */
  allowNotionHostedUrls?: boolean;
  footerAddress?: string;
  listName?: string;
  /** The signed link to the letter's web version (lib/view), from the mailout id. */
  viewUrl?: (mailoutId: string) => string;
  /** For downloading images (re-hosting, reading their size). */
  fetch?: typeof fetch;
  /** A send's check of the page (lib/notion/membership), right after Notion returns it. */
  admitPage?: (page: Record<string, any>) => Promise<void>;
}

/** The images re-hosted (unless a preview keeps Notion's links) and every image's size read. */
async function prepareImages(content: LetterContent, options: LetterOptions): Promise<{ markdown: string; sizes: Record<string, ImageSize> }> {
  let markdown = content.markdown;
  let sizes: Record<string, ImageSize> = {};
  if (options.storage || !options.allowNotionHostedUrls) {
    const rehosted = await rehostImages(markdown, {
      notionFileUrls: content.notionFileUrls,
      ...(options.storage ? { storage: options.storage } : {}),
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
    markdown = rehosted.markdown;
    sizes = rehosted.sizes;
  }
  const unmeasured = imageUrls(lex(markdown)).filter((u) => !(u in sizes));
  const probed = unmeasured.length ? await probeImageSizes(unmeasured, options.fetch ? { fetch: options.fetch } : {}) : {};
  return { markdown, sizes: { ...sizes, ...probed } };
}

/**
 * A rendered letter that still links a file hosted by Notion is refused (AppError
 * 'unprocessable'): Notion's links die within the hour. `allow` (previews only) keeps them, with a warning.
 */
export function refuseNotionHostedUrls(letter: RenderedMailout, notionFileUrls: string[], allow: boolean): RenderedMailout {
  const leaked = findNotionHostedUrls(`${letter.html}\n${letter.text}`, notionFileUrls);
  if (leaked.length === 0) return letter;
  if (!allow) {
    throw new AppError(
      'unprocessable',
      `This email would contain ${leaked.length} file link(s) hosted by Notion, which expire within an hour. Re-host the images first (set SUPABASE_URL, SUPABASE_SERVICE_ROLE_KEY and SUPABASE_STORAGE_BUCKET), or use external image URLs.`,
      { details: { urls: leaked.length } },
    );
  }
  const warning = `${leaked.length} Notion-hosted file link(s) left in place: they expire within an hour (preview only)`;
  return { ...letter, warnings: [...new Set([...letter.warnings, warning])] };
}

/** A letter's content, its images prepared, rendered once: the letter every mode sends or shows. */
export async function renderLetter(content: LetterContent, options: LetterOptions = {}): Promise<LoadedLetter> {
  const { markdown, sizes } = await prepareImages(content, options);
  const rendered = renderMailout({
    markdown,
    subject: content.subject,
    ...(content.preheader ? { preheader: content.preheader } : {}),
    ...(options.footerAddress ? { footerAddress: options.footerAddress } : {}),
    ...(options.listName ? { listName: options.listName } : {}),
    ...(options.viewUrl ? { viewUrl: options.viewUrl(content.mailoutId) } : {}),
    imageSizes: sizes,
  });
  const letter = refuseNotionHostedUrls(rendered, content.notionFileUrls, options.allowNotionHostedUrls === true);
  return {
    mailoutId: content.mailoutId,
    letter,
    test: content.test,
    ...(content.status ? { status: content.status } : {}),
    warnings: [...content.warnings, ...letter.warnings],
    origin: content.origin,
  };
}
