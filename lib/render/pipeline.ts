import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@notionhq/client';
import { AppError } from '../errors';
import { probeImageSizes, rehostImages, type ImageStorage } from '../images';
import type { ImageSize } from '../images/size';
import { mailoutIdForFile, parseMailoutId } from '../mailout-id';
import { readMailoutPage, type MailoutPage } from '../notion/read';
import { renderMailout, type RenderedMailout } from './index';
import { parseMarkdownLetter } from './markdown-file';
import { imageUrls, lex } from './markdown-tokens';

/**
 * The one content pipeline. Every way a letter goes out or is looked at (the webhook's send,
 * a test send, a dry run, `npm run send`, the demo, `npm run preview`) calls `loadLetter`:
 *
 *   a letter source (a Notion page, or a Markdown file with front matter)
 *     → its subject, preheader and Markdown
 *     → images uploaded to Notion re-hosted, every image's size read
 *     → one render (lib/render) → the letter a mailout stores at its claim
 *
 * Per recipient, only `personalise` and the message builder (lib/message) follow.
 */

export type LetterSource = { kind: 'notion'; pageId: string } | { kind: 'file'; path: string };

/** A reference from a command line: an existing file is a Markdown letter, anything else a Notion page id or link. */
export function letterSource(reference: string): LetterSource {
  if (fs.existsSync(reference) && fs.statSync(reference).isFile()) return { kind: 'file', path: path.resolve(reference) };
  return { kind: 'notion', pageId: parseMailoutId(reference) };
}

/** The mailout id of a Markdown file: its front matter `id:`, else its file name (lib/mailout-id). */
export function mailoutIdOfFile(file: string, frontMatterId: string | undefined): string {
  return mailoutIdForFile({ frontMatterId: frontMatterId ?? null, path: file });
}

function readLetterFile(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new AppError('bad_request', `The letter file ${file} cannot be read: ${(err as Error).message}`);
  }
}

/** The mailout a source stands for: the Notion page's id, or the file's id. */
export function mailoutIdOf(source: LetterSource): string {
  if (source.kind === 'notion') return source.pageId;
  return mailoutIdOfFile(source.path, parseMarkdownLetter(readLetterFile(source.path), source.path).id);
}

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

/** The stored letter, and what the source says about the send. */
export interface LoadedLetter {
  mailoutId: string;
  letter: RenderedMailout;
  /** The page's Test checkbox. */
  test: boolean;
  status?: string;
  /** Reader and renderer warnings together (skipped blocks, dropped links, unknown image sizes). */
  warnings: string[];
}

async function readSource(source: LetterSource, options: LetterOptions): Promise<LetterContent> {
  if (source.kind === 'file') {
    const file = parseMarkdownLetter(readLetterFile(source.path), source.path);
    return {
      mailoutId: mailoutIdOfFile(source.path, file.id),
      subject: file.subject,
      ...(file.preheader ? { preheader: file.preheader } : {}),
      markdown: file.markdown,
      test: false,
      notionFileUrls: [],
      warnings: file.warnings,
    };
  }
  if (!options.notion) throw new AppError('config', 'Notion is not configured: set NOTION_TOKEN to send or preview Notion pages.');
  return pageContent(await readMailoutPage(options.notion, source.pageId, options.admitPage ? { admit: options.admitPage } : {}));
}

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
  };
}

/** Reads a letter source and renders it: the letter every mode sends or shows. */
export async function loadLetter(source: LetterSource, options: LetterOptions = {}): Promise<LoadedLetter> {
  return renderLetter(await readSource(source, options), options);
}

/** The pipeline from the Markdown stage on (a page already read). */
export async function renderLetter(content: LetterContent, options: LetterOptions = {}): Promise<LoadedLetter> {
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
  const letter = renderMailout({
    markdown,
    subject: content.subject,
    ...(content.preheader ? { preheader: content.preheader } : {}),
    ...(options.footerAddress ? { footerAddress: options.footerAddress } : {}),
    ...(options.listName ? { listName: options.listName } : {}),
    ...(options.viewUrl ? { viewUrl: options.viewUrl(content.mailoutId) } : {}),
    imageSizes: { ...sizes, ...probed },
    notionFileUrls: content.notionFileUrls,
    ...(options.allowNotionHostedUrls ? { allowNotionHostedUrls: true } : {}),
  });
  return {
    mailoutId: content.mailoutId,
    letter,
    test: content.test,
    ...(content.status ? { status: content.status } : {}),
    warnings: [...content.warnings, ...letter.warnings],
  };
}
