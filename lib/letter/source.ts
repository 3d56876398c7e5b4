import fs from 'node:fs';
import path from 'node:path';
import { parseMailoutId } from '../mailout-id';
import { fileMailoutId, loadFileLetter } from './load-file';
import { loadNotionLetter } from './load-notion';
import type { LetterOptions } from './render-letter';
import type { LetterSource, LoadedLetter } from './types';

/** A reference from a command line: an existing file is a Markdown letter, anything else a Notion page id or link. */
export function letterSource(reference: string): LetterSource {
  if (fs.existsSync(reference) && fs.statSync(reference).isFile()) return { kind: 'file', path: path.resolve(reference) };
  return { kind: 'notion', pageId: parseMailoutId(reference) };
}

/** The mailout a source stands for: the Notion page's id, or the file's id. */
export function mailoutIdOf(source: LetterSource): string {
  return source.kind === 'notion' ? source.pageId : fileMailoutId(source.path);
}

/** Reads a letter source and renders it: the letter every mode sends or shows. */
export async function loadLetter(source: LetterSource, options: LetterOptions = {}): Promise<LoadedLetter> {
  return source.kind === 'file' ? loadFileLetter(source.path, options) : loadNotionLetter(source.pageId, options);
}
