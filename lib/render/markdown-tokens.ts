import { Lexer, type Token, type Tokens } from 'marked';
import { escapeHtml } from '../html';
import type { ImageSize } from '../letter/types';

/** Markdown parsed once by `marked`'s lexer, and what both renderings (HTML, text) share. */

export interface RenderContext {
  lang: 'ru' | 'en';
  warnings: string[];
  /** Pixel sizes of the images, by URL (the re-hosted files and the probed external ones). */
  imageSizes?: Record<string, ImageSize>;
}

export function lex(markdown: string): Token[] {
  return Lexer.lex(markdown, { gfm: true, breaks: false });
}

// ---------------------------------------------------------------------------------------
// escaping
// ---------------------------------------------------------------------------------------

/** Escapes, keeping character references the Markdown already had (`&amp;`, `&#8212;`). */
export function escapeKeepEntities(s: string): string {
  return s
    .replace(/&(?!#\d+;|#x[0-9a-f]+;|[a-z][a-z0-9]{1,31};)/gi, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0', mdash: '—', ndash: '–', laquo: '«', raquo: '»', hellip: '…', copy: '©', zwnj: '' };

export function decodeEntities(s: string): string {
  return s.replace(/&(#\d+|#x[0-9a-f]+|[a-z][a-z0-9]{1,31});/gi, (m, e: string) => {
    if (e[0] === '#') {
      const cp = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return Number.isFinite(cp) && cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : m;
    }
    return NAMED[e.toLowerCase()] ?? m;
  });
}

export function absoluteLink(href: string): string | undefined {
  const h = href.trim();
  if (/^https?:\/\/[^\s/]+/i.test(h) || /^mailto:[^\s]+$/i.test(h)) return h;
  return undefined;
}

export function encodeHref(href: string): string {
  // Keep what is already percent-encoded; encode what is not allowed in an attribute.
  return escapeHtml(href.replace(/[^\x21-\x7e]|[<>"]/gu, (c) => encodeURIComponent(c)));
}

/** Every image address in the Markdown (to read each image's size before rendering). */
export function imageUrls(tokens: Token[]): string[] {
  const out: string[] = [];
  const walk = (list: Token[] | undefined) => {
    for (const t of list ?? []) {
      if (t.type === 'image') out.push((t as Tokens.Image).href.trim());
      if (t.type === 'html') for (const m of (t as Tokens.HTML).text.matchAll(/<img\b[^>]*?\ssrc\s*=\s*["']([^"']+)["']/gi)) out.push(decodeEntities(m[1]!).trim());
      const x = t as Token & { tokens?: Token[]; items?: Tokens.ListItem[]; header?: Tokens.TableCell[]; rows?: Tokens.TableCell[][] };
      walk(x.tokens);
      for (const item of x.items ?? []) walk(item.tokens);
      for (const cell of [...(x.header ?? []), ...(x.rows ?? []).flat()]) walk(cell.tokens);
    }
  };
  walk(tokens);
  return [...new Set(out.filter((u) => /^https?:\/\//i.test(u)))];
}

/** A table's header row whose every cell is empty: a table without a header row (lib/notion/markdown). */
export const isEmptyRow = (cells: Tokens.TableCell[]) => cells.every((c) => c.text.trim() === '');
