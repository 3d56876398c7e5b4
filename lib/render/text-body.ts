import type { Token, Tokens } from 'marked';
import { absoluteLink, decodeEntities, isEmptyRow, type RenderContext } from './markdown-tokens';
import { htmlToPlain } from './sanitize';

/** Markdown tokens → the letter's plain-text part; it walks the same tokens as the HTML body, so it says what the HTML shows. */


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
      const body = tb.rows.map(row);
      if (isEmptyRow(tb.header)) return body.join('\n');
      const head = row(tb.header);
      return [head, '-'.repeat(Math.min(60, Math.max(3, [...head].length))), ...body].join('\n');
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
