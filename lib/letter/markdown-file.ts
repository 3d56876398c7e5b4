import path from 'node:path';

/**
 * A letter written as a Markdown file (the CLI, the demo, the preview): an optional front
 * matter block (`---` lines around `key: value` lines) and the body.
 *
 *   subject:    the subject; without it the first `# heading` (which stays in the letter),
 *               else the file name
 *   preheader:  the line an inbox shows after the subject
 *   id:         the mailout's identity (see `fileMailoutId` in ./load-file)
 *
 * The front matter never reaches the letter itself.
 */

export interface MarkdownLetter {
  subject: string;
  preheader?: string;
  /** The front matter's `id:`, as written. */
  id?: string;
  markdown: string;
  warnings: string[];
}

const KNOWN_KEYS = new Set(['subject', 'preheader', 'id']);
const FRONT_MATTER = /^---[ \t]*\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)/;

export function parseMarkdownLetter(text: string, fileName: string): MarkdownLetter {
  let body = text.replace(/^\uFEFF/, '');
  const meta: Record<string, string> = {};
  const warnings: string[] = [];
  const fm = FRONT_MATTER.exec(body);
  if (fm) {
    for (const line of fm[1]!.split(/\r?\n/)) {
      if (line.trim() === '' || line.trim().startsWith('#')) continue;
      const m = /^\s*([A-Za-z_][\w-]*)\s*:\s*(.*)$/.exec(line);
      const key = m?.[1]!.toLowerCase();
      if (!m || !key || !KNOWN_KEYS.has(key)) {
        warnings.push(`Front matter line ignored (only subject:, preheader: and id: are read): ${line.trim().slice(0, 80)}`);
        continue;
      }
      meta[key] = m[2]!.trim().replace(/^(["'])(.*)\1$/, '$2');
    }
    body = body.slice(fm[0].length);
  }
  let subject = meta.subject?.replace(/\s+/g, ' ').trim() ?? '';
  if (!subject) {
    const h1 = /^#[ \t]+(.+?)[ \t]*#*[ \t]*$/m.exec(body);
    subject = h1 ? h1[1]!.replace(/[*_`]/g, '').trim() : path.basename(fileName).replace(/\.[^.]+$/, '');
  }
  const preheader = meta.preheader?.replace(/\s+/g, ' ').trim();
  return {
    subject,
    ...(preheader ? { preheader } : {}),
    ...(meta.id ? { id: meta.id } : {}),
    markdown: body,
    warnings,
  };
}
