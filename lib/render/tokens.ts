import { Lexer, type Token, type Tokens } from 'marked';
import { displaySize, type ImageSize } from '../images/size';
import { htmlToPlain } from './sanitize';

/**
 * Markdown (parsed once by `marked`'s lexer) → email HTML with inline styles, and → a plain
 * text part. Both walk the same token tree, so the text part says what the HTML shows.
 */

export const FONT = "-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif";
const MONO = "SFMono-Regular,Menlo,Consolas,'Liberation Mono',monospace";
export const TEXT_COLOR = '#1f1f1f';
export const LINK_COLOR = '#1a66c9';
export const MUTED_COLOR = '#6b6b6b';

const S = {
  p: `margin:0 0 16px 0;font-size:16px;line-height:1.6;color:${TEXT_COLOR}`,
  h1: `margin:28px 0 12px 0;font-size:28px;line-height:1.25;font-weight:700;color:${TEXT_COLOR}`,
  h2: `margin:24px 0 10px 0;font-size:22px;line-height:1.3;font-weight:700;color:${TEXT_COLOR}`,
  h3: `margin:20px 0 8px 0;font-size:18px;line-height:1.35;font-weight:700;color:${TEXT_COLOR}`,
  ul: `margin:0 0 16px 0;padding:0 0 0 24px`,
  task: `margin:0 0 16px 0;padding:0 0 0 4px;list-style:none`,
  li: `margin:0 0 6px 0;font-size:16px;line-height:1.6;color:${TEXT_COLOR}`,
  quote: `margin:0 0 16px 0;padding:12px 16px;border-left:4px solid #d6d6d2;background-color:#f6f6f4;color:${TEXT_COLOR}`,
  pre: `margin:0 0 16px 0;padding:12px 14px;background-color:#f3f4f6;border-radius:6px;font-family:${MONO};font-size:14px;line-height:1.5;white-space:pre-wrap;word-break:break-word;color:${TEXT_COLOR}`,
  codespan: `font-family:${MONO};font-size:0.9em;background-color:#f0f0ee;padding:1px 4px;border-radius:4px;color:#c7254e`,
  hr: `border:0;border-top:1px solid #e2e2de;margin:24px 0 24px 0;height:0`,
  a: `color:${LINK_COLOR};text-decoration:underline`,
  img: `display:block;max-width:100%;height:auto;border:0;margin:0 auto`,
  figure: `margin:0 0 16px 0;text-align:center`,
  caption: `margin:8px 0 0 0;font-size:13px;line-height:1.4;color:${MUTED_COLOR};text-align:center`,
  // The column's text breaks long words and URLs (template.ts); a table cell must not: a
  // header is read as a word and a number as a number, never "Неде/ля" or "10 00/0". A table
  // too wide for the column scrolls sideways inside this box instead, which the fixed
  // layout of the frame's tables makes possible.
  tableWrap: `margin:0 0 16px 0;overflow-x:auto`,
  table: `border-collapse:collapse;width:100%;font-size:14px;line-height:1.5`,
  th: `border:1px solid #deded9;padding:6px 8px;vertical-align:top;font-size:13px;font-weight:700;background-color:#f6f6f4;color:${TEXT_COLOR};word-break:normal;overflow-wrap:normal`,
  td: `border:1px solid #deded9;padding:6px 8px;vertical-align:top;color:${TEXT_COLOR};word-break:normal;overflow-wrap:normal`,
  // A number ("10 000", "−2,5 %", "100 ₽", "12.03.2026") wraps at none of its spaces either.
  nowrap: `white-space:nowrap;`,
};

/** The width of the letter's column (600 px less the card's padding): no image is wider. */
export const COLUMN_WIDTH = 520;

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

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** Escapes, keeping character references the Markdown already had (`&amp;`, `&#8212;`). */
function escapeKeepEntities(s: string): string {
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

function absoluteLink(href: string): string | undefined {
  const h = href.trim();
  if (/^https?:\/\/[^\s/]+/i.test(h) || /^mailto:[^\s]+$/i.test(h)) return h;
  return undefined;
}

function encodeHref(href: string): string {
  // Keep what is already percent-encoded; encode what is not allowed in an attribute.
  return escapeHtml(href.replace(/[^\x21-\x7e]|[<>"]/gu, (c) => encodeURIComponent(c)));
}

// ---------------------------------------------------------------------------------------
// HTML
// ---------------------------------------------------------------------------------------

function isImageParagraph(t: Tokens.Paragraph): boolean {
  const meaningful = t.tokens.filter((x) => !(x.type === 'text' && (x as Tokens.Text).text.trim() === '') && x.type !== 'br');
  return meaningful.length > 0 && meaningful.every((x) => x.type === 'image');
}

export function renderHtml(tokens: Token[], ctx: RenderContext): string {
  return tokens.map((t) => block(t, ctx)).join('');
}

/**
 * The letter's body: its blocks, the first without a top margin and the last without a
 * bottom one, so the card's padding alone sets the space above and below the text, whether
 * the letter opens with a heading or a paragraph.
 */
export function renderBody(tokens: Token[], ctx: RenderContext): string {
  // A paragraph of images is one figure per image: the last figure is the last block.
  const blocks = tokens
    .flatMap((t) =>
      t.type === 'paragraph' && isImageParagraph(t as Tokens.Paragraph)
        ? (t as Tokens.Paragraph).tokens.filter((x) => x.type === 'image').map((x) => figure(x as Tokens.Image, ctx))
        : [block(t, ctx)],
    )
    .filter((b) => b !== '');
  const outer = /margin:([^\s;"]+) ([^\s;"]+) ([^\s;"]+) ([^\s;"]+)(;|")/;
  if (blocks.length > 0) blocks[0] = blocks[0]!.replace(outer, (_m, _t, r, b, l, end) => `margin:0 ${r} ${b} ${l}${end}`);
  const last = blocks.length - 1;
  if (last >= 0) blocks[last] = blocks[last]!.replace(outer, (_m, t, r, _b, l, end) => `margin:${t} ${r} 0 ${l}${end}`);
  return blocks.join('');
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

function block(t: Token, ctx: RenderContext): string {
  switch (t.type) {
    case 'space':
    case 'def':
      return '';
    case 'paragraph': {
      const p = t as Tokens.Paragraph;
      if (isImageParagraph(p)) return p.tokens.filter((x) => x.type === 'image').map((x) => figure(x as Tokens.Image, ctx)).join('');
      return `<p style="${S.p}">${inline(p.tokens, ctx)}</p>\n`;
    }
    case 'heading': {
      const h = t as Tokens.Heading;
      const level = Math.min(3, Math.max(1, h.depth)) as 1 | 2 | 3;
      return `<h${level} style="${S[`h${level}`]}">${inline(h.tokens, ctx)}</h${level}>\n`;
    }
    case 'hr':
      return `<hr style="${S.hr}">\n`;
    case 'code': {
      const c = t as Tokens.Code;
      return `<pre class="n-code" style="${S.pre}"><code>${escapeHtml(c.text)}</code></pre>\n`;
    }
    case 'blockquote': {
      const q = t as Tokens.Blockquote;
      const inner = renderHtml(q.tokens, ctx);
      return `<div class="n-quote" style="${S.quote}">${trimLastMargin(inner)}</div>\n`;
    }
    case 'list':
      return list(t as Tokens.List, ctx);
    case 'table':
      return table(t as Tokens.Table, ctx);
    case 'html':
      return (t as Tokens.HTML).text;
    case 'text': {
      const x = t as Tokens.Text;
      return x.tokens ? inline(x.tokens, ctx) : escapeKeepEntities(x.text);
    }
    default:
      ctx.warnings.push(`Skipped unrecognised Markdown (${t.type})`);
      return '';
  }
}

/** The last block inside a box needs no bottom margin. */
function trimLastMargin(html: string): string {
  const i = html.lastIndexOf('margin:0 0 16px 0');
  return i < 0 ? html : html.slice(0, i) + 'margin:0' + html.slice(i + 'margin:0 0 16px 0'.length);
}

function list(l: Tokens.List, ctx: RenderContext): string {
  const task = l.items.length > 0 && l.items.every((i) => i.task);
  const tag = l.ordered ? 'ol' : 'ul';
  const start = l.ordered && typeof l.start === 'number' && l.start !== 1 ? ` start="${l.start}"` : '';
  const items = l.items
    .map((item, i) => {
      const box = item.task ? `${item.checked ? '☑' : '☐'}&nbsp;` : '';
      const inner = item.tokens
        .filter((x) => x.type !== 'checkbox')
        .map((x) => (x.type === 'paragraph' && !l.loose ? inline((x as Tokens.Paragraph).tokens, ctx) : block(x, ctx)))
        .join('');
      // The last item's margin would add to the list's own (margins collapse in some clients, not in others).
      const style = i === l.items.length - 1 ? S.li.replace('margin:0 0 6px 0', 'margin:0') : S.li;
      return `<li style="${style}">${box}${trimLastMargin(inner.replace(/\n$/, ''))}</li>\n`;
    })
    .join('');
  return `<${tag}${start} style="${task ? S.task : S.ul}">\n${items}</${tag}>\n`;
}

/** A cell that holds a number, an amount, a percentage, a date or a time, and nothing else. */
const NUMERIC_CELL = /^[-+−±≈~]?[$€£¥₽]?\s?\d[\d\s.,:/'’–—-]*(?:\s?[%‰$€£¥₽])?$/u;

function table(t: Tokens.Table, ctx: RenderContext): string {
  const align = (a: string | null) => (a ? `text-align:${a};` : '');
  const nowrap = (c: Tokens.TableCell) => {
    const text = inlineText(c.tokens, ctx).trim();
    return text.length <= 32 && NUMERIC_CELL.test(text) ? S.nowrap : '';
  };
  // The column's alignment is the cell's own (a fixed text-align after it would win); the
  // `align` attribute is for Outlook for Windows, whose Word engine reads attributes best.
  const cell = (tag: 'th' | 'td', c: Tokens.TableCell) =>
    `<${tag} class="n-cell" align="${c.align ?? 'left'}" style="${S[tag]};${nowrap(c)}${align(c.align ?? 'left')}">${inline(c.tokens, ctx)}</${tag}>`;
  const head = `<tr>${t.header.map((c) => cell('th', c)).join('')}</tr>`;
  const rows = t.rows.map((r) => `<tr>${r.map((c) => cell('td', c)).join('')}</tr>`).join('\n');
  return `<div style="${S.tableWrap}"><table class="n-table" role="table" cellpadding="0" cellspacing="0" border="0" style="${S.table}">\n<thead>${head}</thead>\n<tbody>${rows}</tbody></table></div>\n`;
}

function figure(img: Tokens.Image, ctx: RenderContext): string {
  const src = imageSrc(img.href, ctx);
  if (!src) return '';
  const alt = decodeEntities(img.text ?? '');
  const caption = img.title ? `<p class="n-muted" style="${S.caption}">${escapeHtml(decodeEntities(img.title))}</p>` : '';
  return `<div style="${S.figure}"><img src="${encodeHref(src)}"${sizeAttributes(src, ctx)} alt="${escapeHtml(alt)}" style="${S.img}">${caption}</div>\n`;
}

/** The width an image is shown at: the author's, or its real size, never wider than the column. */
export function shownWidth(src: string, declared: number | undefined, ctx: RenderContext): number | undefined {
  if (declared !== undefined && declared > 0) return Math.min(declared, COLUMN_WIDTH);
  const size = ctx.imageSizes?.[src];
  return size ? displaySize(size, COLUMN_WIDTH).width : undefined;
}

/**
 * `width` from the file's own size, never wider than the column: Outlook for Windows ignores
 * `max-width` and shows an image at its attribute's width (or its own), its height scaled to
 * match. No `height`: every client scales it (`height:auto`), and with both a spam filter
 * weighs the text against the images' area (SpamAssassin's HTML_IMAGE_RATIO_*).
 */
function sizeAttributes(src: string, ctx: RenderContext): string {
  const size = ctx.imageSizes?.[src];
  if (!size) {
    ctx.warnings.push(`The size of an image could not be read, so Outlook for Windows may show it wider than the letter: ${src.slice(0, 80)}`);
    return '';
  }
  return ` width="${displaySize(size, COLUMN_WIDTH).width}"`;
}

function imageSrc(href: string, ctx: RenderContext): string | undefined {
  const h = href.trim();
  if (/^https?:\/\//i.test(h)) return h;
  ctx.warnings.push(`Dropped an image whose address is not an absolute web address: ${h.slice(0, 80)}`);
  return undefined;
}

export function inline(tokens: Token[] | undefined, ctx: RenderContext): string {
  if (!tokens) return '';
  let out = '';
  for (const t of tokens) {
    switch (t.type) {
      case 'text': {
        const x = t as Tokens.Text;
        out += x.tokens ? inline(x.tokens, ctx) : escapeKeepEntities(x.text);
        break;
      }
      case 'escape':
        out += escapeHtml((t as Tokens.Escape).text);
        break;
      case 'strong':
        out += `<strong>${inline((t as Tokens.Strong).tokens, ctx)}</strong>`;
        break;
      case 'em':
        out += `<em>${inline((t as Tokens.Em).tokens, ctx)}</em>`;
        break;
      case 'del':
        out += `<s>${inline((t as Tokens.Del).tokens, ctx)}</s>`;
        break;
      case 'codespan':
        out += `<code class="n-codespan" style="${S.codespan}">${escapeHtml(decodeEntities((t as Tokens.Codespan).text))}</code>`;
        break;
      case 'br':
        out += '<br>';
        break;
      case 'html':
        out += (t as Tokens.Tag).text;
        break;
      case 'link': {
        const l = t as Tokens.Link;
        const href = absoluteLink(l.href);
        const text = inline(l.tokens, ctx);
        if (!href) {
          ctx.warnings.push(`Removed a link that is not an absolute web address: ${l.href.slice(0, 80)}`);
          out += text;
        } else {
          out += `<a href="${encodeHref(href)}" class="n-link" style="${S.a}">${text}</a>`;
        }
        break;
      }
      case 'image': {
        const img = t as Tokens.Image;
        const src = imageSrc(img.href, ctx);
        if (src) out += `<img src="${encodeHref(src)}"${sizeAttributes(src, ctx)} alt="${escapeHtml(decodeEntities(img.text ?? ''))}" style="${S.img};display:inline-block">`;
        break;
      }
      case 'checkbox':
        out += (t as Tokens.Checkbox).checked ? '☑&nbsp;' : '☐&nbsp;';
        break;
      default:
        out += escapeHtml((t as { raw?: string }).raw ?? '');
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Plain text
// ---------------------------------------------------------------------------------------

const IMAGE_WORD = { ru: 'Изображение', en: 'Image' };

export function renderText(tokens: Token[], ctx: RenderContext): string {
  const blocks = tokens.map((t) => textBlock(t, ctx)).filter((s) => s.trim() !== '');
  return blocks.join('\n\n');
}

function underline(text: string, ch: string): string {
  const width = Math.min(60, Math.max(3, [...text.split('\n').pop()!].length));
  return `${text}\n${ch.repeat(width)}`;
}

function textBlock(t: Token, ctx: RenderContext): string {
  switch (t.type) {
    case 'space':
    case 'def':
      return '';
    case 'paragraph': {
      const p = t as Tokens.Paragraph;
      return inlineText(p.tokens, ctx).trim();
    }
    case 'heading': {
      const h = t as Tokens.Heading;
      const text = inlineText(h.tokens, ctx).trim();
      if (h.depth === 1) return underline(text, '=');
      if (h.depth === 2) return underline(text, '-');
      return `▸ ${text}`;
    }
    case 'hr':
      return '——————————';
    case 'code':
      return (t as Tokens.Code).text
        .split('\n')
        .map((l) => `    ${l}`)
        .join('\n');
    case 'blockquote':
      return renderText((t as Tokens.Blockquote).tokens, ctx)
        .split('\n')
        .map((l) => (l ? `> ${l}` : '>'))
        .join('\n');
    case 'list':
      return listText(t as Tokens.List, ctx);
    case 'table': {
      const tb = t as Tokens.Table;
      const row = (cells: Tokens.TableCell[]) => cells.map((c) => inlineText(c.tokens, ctx).replace(/\n/g, ' ').trim()).join(' | ');
      const head = row(tb.header);
      return [head, '-'.repeat(Math.min(60, Math.max(3, [...head].length))), ...tb.rows.map(row)].join('\n');
    }
    case 'html':
      return decodeEntities(htmlToPlain((t as Tokens.HTML).text)).trim();
    case 'text': {
      const x = t as Tokens.Text;
      return x.tokens ? inlineText(x.tokens, ctx) : decodeEntities(x.text);
    }
    default:
      return '';
  }
}

function listText(l: Tokens.List, ctx: RenderContext): string {
  const start = l.ordered && typeof l.start === 'number' ? l.start : 1;
  return l.items
    .map((item, i) => {
      const marker = item.task ? (item.checked ? '[x] ' : '[ ] ') : l.ordered ? `${start + i}. ` : '- ';
      const parts = item.tokens.filter((x) => x.type !== 'checkbox').map((x) => textBlock(x, ctx)).filter((s) => s.trim() !== '');
      const body = parts.join(l.loose ? '\n\n' : '\n');
      const pad = ' '.repeat(marker.length);
      return marker + body.split('\n').map((line, j) => (j === 0 || !line ? line : pad + line)).join('\n');
    })
    .join(l.loose ? '\n\n' : '\n');
}

function sameTarget(text: string, href: string): boolean {
  const norm = (s: string) => s.trim().replace(/^mailto:/i, '').replace(/^https?:\/\//i, '').replace(/\/$/, '').toLowerCase();
  return norm(text) === norm(href);
}

export function inlineText(tokens: Token[] | undefined, ctx: RenderContext): string {
  if (!tokens) return '';
  let out = '';
  for (const t of tokens) {
    switch (t.type) {
      case 'text': {
        // A soft line break (a newline inside a paragraph) joins the lines, as in the HTML.
        const x = t as Tokens.Text;
        out += x.tokens ? inlineText(x.tokens, ctx) : decodeEntities(x.text).replace(/[ \t]*\n[ \t]*/g, ' ');
        break;
      }
      case 'escape':
        out += (t as Tokens.Escape).text;
        break;
      case 'strong':
      case 'em':
      case 'del':
        out += inlineText((t as Tokens.Strong).tokens, ctx);
        break;
      case 'codespan':
        out += decodeEntities((t as Tokens.Codespan).text);
        break;
      case 'br':
        out += '\n';
        break;
      case 'html': {
        const tag = (t as Tokens.Tag).text;
        if (/^<br\s*\/?>$/i.test(tag)) out += '\n';
        break;
      }
      case 'link': {
        const l = t as Tokens.Link;
        const text = inlineText(l.tokens, ctx).trim();
        const href = absoluteLink(l.href);
        if (!href) out += text;
        else if (!text || sameTarget(text, href)) out += href.replace(/^mailto:/i, '');
        else out += `${text} (${href.replace(/^mailto:/i, '')})`;
        break;
      }
      case 'image': {
        const img = t as Tokens.Image;
        const label = decodeEntities(img.title || img.text || '').trim();
        out += label ? `[${IMAGE_WORD[ctx.lang]}: ${label}]` : `[${IMAGE_WORD[ctx.lang]}]`;
        break;
      }
      case 'checkbox':
        out += (t as Tokens.Checkbox).checked ? '[x] ' : '[ ] ';
        break;
      default:
        out += (t as { raw?: string }).raw ?? '';
    }
  }
  return out;
}
