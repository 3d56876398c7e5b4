import { AppError } from '../errors';
import type { ImageSize, Recipient, RenderedMailout, Segment, Template } from '../letter/types';
import { sanitizeBody } from './sanitize';
import { frameHtml, frameText, READER_LINKS_END, READER_LINKS_START } from './template';
import { renderBody, shownWidth } from './html-body';
import { escapeHtml } from '../html';
import { lex, type RenderContext } from './markdown-tokens';
import { renderText } from './text-body';

/**
 * Markdown → a rendered mailout: the HTML and text parts, rendered once per mailout, with
 * per-recipient placeholders (`{{unsubscribe_url}}`, `{{name}}` / `{{name|fallback}}`)
 * that `personalise` fills in by string concatenation.
 */

export interface RenderInput {
  markdown: string;
  subject: string;
  preheader?: string;
  footerAddress?: string;
  listName?: string;
  /** 'ru' or 'en' for the footer's words and `<html lang>`; guessed from the text when absent. */
  lang?: 'ru' | 'en';
  /** Pixel sizes of the letter's images by URL: each image gets `width`/`height` attributes. */
  imageSizes?: Record<string, ImageSize>;
  /** The signed link to the letter's web version (footer and text part). */
  viewUrl?: string;
}

/** What fills a recipient's copy: their unsubscribe link and name (`{{name}}` without a name becomes its fallback, or nothing). */
type ReaderFill = { unsubscribeUrl: string } & Partial<Pick<Recipient, 'name'>>;

const PLACEHOLDER = /\{\{\s*(unsubscribe_url|name|имя)\s*(?:\|([^{}]*?)\s*)?\}\}/gi;

export function detectLanguage(text: string): 'ru' | 'en' {
  const cyr = (text.match(/[а-яё]/gi) ?? []).length;
  const lat = (text.match(/[a-z]/gi) ?? []).length;
  return cyr > 0 && cyr >= lat * 0.5 ? 'ru' : 'en';
}

function compile(source: string): Template {
  const segments: Segment[] = [];
  let last = 0;
  for (const m of source.matchAll(PLACEHOLDER)) {
    const before = source.slice(last, m.index);
    if (before) segments.push(before);
    if (m[1]!.toLowerCase() === 'unsubscribe_url') {
      segments.push({ kind: 'unsubscribe' });
    } else {
      const fallback = m[2]?.trim() || undefined;
      // "Привет, {{name}}!" without a name reads "Привет!", not "Привет, !".
      const after = source.slice(m.index! + m[0].length);
      const sep = /(,\s*|\s+)$/.exec(before)?.[0] ?? '';
      const trimBefore = /^[!?.,;:)…»"]/.test(after) || after === '' ? sep.length : 0;
      segments.push({ kind: 'name', ...(fallback ? { fallback } : {}), trimBefore });
    }
    last = m.index! + m[0].length;
  }
  if (last < source.length) segments.push(source.slice(last));
  return { segments };
}

function fill(template: Template, values: { unsubscribe: string; name?: string }): string {
  const out: string[] = [];
  for (const s of template.segments) {
    if (typeof s === 'string') out.push(s);
    else if (s.kind === 'unsubscribe') out.push(values.unsubscribe);
    else {
      const value = values.name ?? s.fallback;
      if (value) out.push(value);
      else if (s.trimBefore > 0 && out.length > 0) out[out.length - 1] = out[out.length - 1]!.slice(0, -s.trimBefore);
    }
  }
  return out.join('');
}

/** Renders Markdown into the email's HTML and text parts (once per mailout). */
export function renderMailout(input: RenderInput): RenderedMailout {
  const subject = input.subject.replace(/\s+/g, ' ').trim();
  if (!subject) throw new AppError('unprocessable', 'The mailout has no subject.');
  const lang = input.lang ?? detectLanguage(`${subject}\n${input.markdown}`);
  const ctx: RenderContext = { lang, warnings: [], ...(input.imageSizes ? { imageSizes: input.imageSizes } : {}) };
  const tokens = lex(input.markdown);
  // Images written as HTML get their width here, as Markdown images do in renderBody.
  const bodyHtml = sanitizeBody(renderBody(tokens, ctx), (src, declared) => shownWidth(src, declared, ctx));
  const bodyText = renderText(tokens, ctx);
  const frame = {
    lang,
    subject,
    bodyHtml,
    bodyText,
    ...(input.preheader ? { preheader: input.preheader } : {}),
    ...(input.footerAddress ? { footerAddress: input.footerAddress } : {}),
    ...(input.listName ? { listName: input.listName } : {}),
    ...(input.viewUrl ? { viewUrl: input.viewUrl } : {}),
  };
  const html = frameHtml(frame);
  const text = frameText(frame);

  const usesName = /\{\{\s*(name|имя)\s*(\|[^{}]*)?\}\}/i.test(`${html}${subject}`);
  return {
    subject,
    ...(input.preheader ? { preheader: input.preheader } : {}),
    lang,
    html,
    text,
    warnings: [...new Set(ctx.warnings)],
    usesName,
    templates: { html: compile(html), text: compile(text), subject: compile(subject) },
  };
}

function cleanName(name: string | null | undefined): string | undefined {
  const n = (name ?? '').replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
  return n || undefined;
}

/** The longest name the Subject (a header, shown on one line) carries; a longer one ends in "…". */
export const SUBJECT_NAME_MAX = 100;

/** The name as the Subject carries it: whole up to SUBJECT_NAME_MAX characters, else cut there with an ellipsis. */
function subjectName(name: string): string {
  const chars = Array.from(name);
  return chars.length > SUBJECT_NAME_MAX ? `${chars.slice(0, SUBJECT_NAME_MAX - 1).join('').trimEnd()}…` : name;
}

/** The recipient's copy: placeholders filled in, no re-rendering. */
export function personalise(rendered: RenderedMailout, recipient: ReaderFill): { subject: string; html: string; text: string } {
  if (!/^https:\/\/|^http:\/\/(localhost|127\.0\.0\.1)(:\d+)?\//.test(recipient.unsubscribeUrl)) {
    throw new AppError('internal', 'The unsubscribe URL must be an absolute https URL.');
  }
  const name = cleanName(recipient.name);
  return {
    subject: fill(rendered.templates.subject, { unsubscribe: recipient.unsubscribeUrl, ...(name ? { name: subjectName(name) } : {}) }),
    html: fill(rendered.templates.html, { unsubscribe: escapeHtml(recipient.unsubscribeUrl), ...(name ? { name: escapeHtml(name) } : {}) }),
    text: fill(rendered.templates.text, { unsubscribe: recipient.unsubscribeUrl, ...(name ? { name } : {}) }),
  };
}

/**
 * The letter as its web version shows it: no reader, so `{{name}}` reads as its fallback (or
 * nothing) and the footer's links (view in the browser, unsubscribe) are left out.
 */
export function webVersion(rendered: Pick<RenderedMailout, 'templates'>): string {
  const html = fill(rendered.templates.html, { unsubscribe: '' });
  const start = html.indexOf(READER_LINKS_START);
  const end = html.indexOf(READER_LINKS_END);
  if (start >= 0 && end > start) return html.slice(0, start) + html.slice(end + READER_LINKS_END.length);
  // A letter stored before the markers existed: its unsubscribe link, now empty, goes.
  return html.replace(/<a href=""[^>]*>[^<]*<\/a>/g, '');
}

