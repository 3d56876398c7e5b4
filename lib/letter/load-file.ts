import fs from 'node:fs';
import { AppError } from '../errors';
import { mailoutIdForFile } from '../mailout-id';
import { parseMarkdownLetter, type MarkdownLetter } from './markdown-file';
import { renderLetter, type LetterContent, type LetterOptions } from './render-letter';
import type { LoadedLetter } from './types';

/** A letter written as a Markdown file (the CLI, the demo, the preview): front matter, body, images linked from it. */

function readLetterFile(file: string): MarkdownLetter {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new AppError('bad_request', `The letter file ${file} cannot be read: ${(err as Error).message}`);
  }
  return parseMarkdownLetter(text, file);
}

/** The mailout a parsed file stands for: its front matter `id:`, else its file name (lib/mailout-id `mailoutIdForFile`). */
function mailoutIdOfParsed(file: string, parsed: MarkdownLetter): string {
  return mailoutIdForFile({ frontMatterId: parsed.id ?? null, path: file });
}

/** The mailout id of a Markdown file, the same one its send claims. */
export function fileMailoutId(file: string): string {
  return mailoutIdOfParsed(file, readLetterFile(file));
}

function fileContent(file: string): LetterContent {
  const parsed = readLetterFile(file);
  return {
    mailoutId: mailoutIdOfParsed(file, parsed),
    subject: parsed.subject,
    ...(parsed.preheader ? { preheader: parsed.preheader } : {}),
    markdown: parsed.markdown,
    test: false,
    notionFileUrls: [],
    warnings: parsed.warnings,
    origin: 'file',
  };
}

/** Reads a Markdown letter and renders it. */
export async function loadFileLetter(file: string, options: LetterOptions = {}): Promise<LoadedLetter> {
  return renderLetter(fileContent(file), options);
}
