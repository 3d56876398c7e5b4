import type { Token, Tokens } from 'marked';
import { escapeHtml } from '../html';
import type { ImageSize } from '../letter/types';
import { absoluteLink, decodeEntities, encodeHref, escapeKeepEntities, isEmptyRow, type RenderContext } from './markdown-tokens';
import { COLUMN_WIDTH, STYLE as S } from './letter-style';
import { inlineText } from './text-body';

/** Markdown tokens → the letter's HTML body, every style inline (lib/render/letter-style.ts). */

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

const isBlankHtml = (html: string) => /^(?:\s|&nbsp;|&#160;|\u00a0)*$/.test(html);

function list(l: Tokens.List, ctx: RenderContext): string {
  const task = l.items.length > 0 && l.items.every((i) => i.task);
  const tag = l.ordered ? 'ol' : 'ul';
  const start = l.ordered && typeof l.start === 'number' && l.start !== 1 ? ` start="${l.start}"` : '';
  const items = l.items
    .map((item, i) => {
      const rendered = item.tokens
        .filter((x) => x.type !== 'checkbox')
        .map((x) => (x.type === 'paragraph' && !l.loose ? inline((x as Tokens.Paragraph).tokens, ctx) : block(x, ctx)))
        .join('');
      // An empty to-do is its box alone.
      const inner = isBlankHtml(rendered) ? '' : rendered;
      const box = item.task ? `${item.checked ? '☑' : '☐'}${inner ? '&nbsp;' : ''}` : '';
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
  // An empty header row stands for a table without one (lib/notion/markdown: Notion's has_column_header).
  const head = isEmptyRow(t.header) ? '' : `<thead><tr>${t.header.map((c) => cell('th', c)).join('')}</tr></thead>\n`;
  const rows = t.rows.map((r) => `<tr>${r.map((c) => cell('td', c)).join('')}</tr>`).join('\n');
  return `<div style="${S.tableWrap}"><table class="n-table" role="table" cellpadding="0" cellspacing="0" border="0" style="${S.table}">\n${head}<tbody>${rows}</tbody></table></div>\n`;
}

function figure(img: Tokens.Image, ctx: RenderContext): string {
  const src = imageSrc(img.href, ctx);
  if (!src) return '';
  const alt = decodeEntities(img.text ?? '');
  const caption = img.title ? `<p class="n-muted" style="${S.caption}">${escapeHtml(decodeEntities(img.title))}</p>` : '';
  return `<div style="${S.figure}"><img src="${encodeHref(src)}"${sizeAttributes(src, ctx)} alt="${escapeHtml(alt)}" style="${S.img}">${caption}</div>\n`;
}

/** The `width`/`height` attributes of an image shown in a column `column` pixels wide: its own size, never wider. */
export function displaySize(size: ImageSize, column: number): ImageSize {
  if (size.width <= column) return size;
  return { width: column, height: Math.max(1, Math.round((size.height * column) / size.width)) };
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
