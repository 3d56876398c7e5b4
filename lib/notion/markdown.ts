import type { Client } from '@notionhq/client';
import { APIResponseError } from '@notionhq/client';
import { NotionToMarkdown } from 'notion-to-md';

/**
 * Notion blocks → Markdown for an email.
 *
 * Inline text (every annotation, links, mentions, inline equations) goes through
 * notion-to-md 3.x (`NotionToMarkdown.blockToMarkdown`), with its `annotatePlainText`
 * extended so that what the user typed is escaped (a `*` or `<b>` typed in Notion stays
 * text), colours are kept, and line breaks survive. The block tree is walked here rather
 * than by `pageToMarkdown`, because notion-to-md's own assembly loses content an email
 * needs: it indents children of paragraphs and toggleable headings by four spaces (which
 * Markdown reads as code), drops the children of children inside callouts, renders
 * toggles as `<details>` (closed or invisible in most mail clients) and fetches the
 * children of tables and callouts twice. The walk here fetches each block's children
 * exactly once, 100 per request, and renders toggles open and columns stacked.
 *
 * Blocks that cannot be shown in an email are skipped and reported in `warnings`; a
 * malformed block never stops the rest of the page from rendering. A Notion failure other
 * than "not found" (after the client's retries) is thrown: a page is never sent with
 * parts silently missing.
 */

type Json = Record<string, any>;
export type NotionBlock = Json & { id: string; type: string; has_children?: boolean };

export interface ChildrenSource {
  /** Every child of a block or page, in order (all pages of the paginated list). */
  children(blockId: string): Promise<NotionBlock[]>;
}

/** The paginated `blocks.children.list`, 100 per call (Notion's maximum). */
export function clientChildrenSource(client: Client): ChildrenSource {
  return {
    async children(blockId: string) {
      const out: NotionBlock[] = [];
      let cursor: string | undefined;
      do {
        const res = await client.blocks.children.list({ block_id: blockId, page_size: 100, ...(cursor ? { start_cursor: cursor } : {}) });
        for (const b of res.results) if ('type' in b) out.push(b as unknown as NotionBlock);
        cursor = res.has_more && res.next_cursor ? res.next_cursor : undefined;
      } while (cursor);
      return out;
    },
  };
}

/** Notion's palette (light theme) for text colours and highlight backgrounds. */
const TEXT_COLORS: Record<string, string> = {
  gray: '#787774',
  brown: '#9f6b53',
  orange: '#d9730d',
  yellow: '#cb912f',
  green: '#448361',
  blue: '#337ea9',
  purple: '#9065b0',
  pink: '#c14c8a',
  red: '#d44c47',
};
const BACKGROUND_COLORS: Record<string, string> = {
  gray: '#f1f1ef',
  brown: '#f4eeee',
  orange: '#fbecdd',
  yellow: '#fbf3db',
  green: '#edf3ec',
  blue: '#e7f3f8',
  purple: '#f4f0f7',
  pink: '#f9eef3',
  red: '#fdebec',
};

/** Backslash-escapes every character Markdown (or inline HTML) could read as syntax. */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_[\]<>()#+\-.!|~$=&^]/g, '\\$&');
}

/** A code span that survives backticks inside it. */
export function codeSpan(text: string): string {
  const runs = text.match(/`+/g) ?? [];
  const fence = '`'.repeat(Math.max(0, ...runs.map((r) => r.length)) + 1);
  const pad = text.startsWith('`') || text.endsWith('`') || /^ .* $/.test(text) ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

/** A link destination safe inside `(<…>)`; relative Notion links become absolute. */
export function absoluteHref(href: string): string {
  let h = href.trim();
  if (h.startsWith('/')) h = `https://www.notion.so${h}`;
  return h.replace(/[<>\s]/g, (c) => encodeURIComponent(c));
}

class MailoutNotionToMarkdown extends NotionToMarkdown {
  override annotatePlainText(text: string, annotations: Json): string {
    if (/^\s*$/.test(text)) return text.replace(/\n/g, '<br>');
    const lead = /^\s*/.exec(text)![0];
    const trail = /\s*$/.exec(text)![0];
    const core = text.slice(lead.length, text.length - trail.length);
    let out: string;
    if (annotations.code) {
      out = codeSpan(core.replace(/\n/g, ' '));
    } else {
      out = escapeMarkdown(core).replace(/\n/g, '<br>');
    }
    if (annotations.bold) out = `**${out}**`;
    if (annotations.italic) out = `*${out}*`;
    if (annotations.strikethrough) out = `~~${out}~~`;
    if (annotations.underline) out = `<u>${out}</u>`;
    const color = String(annotations.color ?? 'default');
    if (color.endsWith('_background')) {
      const bg = BACKGROUND_COLORS[color.replace(/_background$/, '')];
      if (bg) out = `<span style="background-color:${bg};color:#1f1f1f">${out}</span>`;
    } else if (TEXT_COLORS[color]) {
      out = `<span style="color:${TEXT_COLORS[color]}">${out}</span>`;
    }
    return lead.replace(/\n/g, '<br>') + out + trail.replace(/\n/g, '<br>');
  }
}

/** A text run of `content` with `item`'s annotations: what notion-to-md renders. */
function textItem(item: Json, content: string, href: string | null, extra: Json = {}): Json {
  return {
    type: 'text',
    text: { content, link: href ? { url: href } : null },
    annotations: { ...(item.annotations ?? {}), ...extra },
    plain_text: content,
    href: href ? absoluteHref(href) : null,
  };
}

/** A date (or date and time) as a reader writes it: `2022-04-24`, `2022-04-24 10:00`. */
function readableDate(value: unknown): string {
  const v = String(value ?? '');
  const m = /^(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2}))?/.exec(v);
  return m ? (m[2] ? `${m[1]} ${m[2]}` : m[1]!) : v;
}

/** A date mention's start, and its end when it has one: never a dangling arrow. */
export function dateMentionText(date: Json | undefined): string {
  const start = readableDate(date?.start);
  return date?.end ? `${start} – ${readableDate(date.end)}` : start;
}

/** A link for a Notion page: its public address (shared to the web) or none; the title for the text. */
export interface NotionPageLink {
  title: string;
  publicUrl: string | null;
}

function plain(items: Json[] | undefined): string {
  return (items ?? []).map((t) => String(t.plain_text ?? '')).join('');
}

function indent(text: string, width: number): string {
  const pad = ' '.repeat(width);
  return text
    .split('\n')
    .map((line) => (line.length > 0 ? pad + line : line))
    .join('\n');
}

function blockquote(text: string): string {
  return text
    .split('\n')
    .map((line) => (line.trim() ? `> ${line}` : '>'))
    .join('\n');
}

type Kind = 'bulleted' | 'numbered' | 'todo' | 'block';
interface Part {
  kind: Kind;
  md: string;
}

export interface ConversionResult {
  markdown: string;
  warnings: string[];
  /** URLs of files uploaded to Notion (`type: "file"`): they expire after an hour. */
  notionFileUrls: string[];
}

export class NotionMarkdownConverter {
  private readonly n2m: MailoutNotionToMarkdown;
  private readonly skipped = new Map<string, number>();
  private readonly fileUrls = new Set<string>();

  private readonly pageLinks = new Map<string, Promise<NotionPageLink | null>>();

  constructor(
    private readonly client: Client,
    private readonly source: ChildrenSource,
  ) {
    this.n2m = new MailoutNotionToMarkdown({ notionClient: client });
  }

  /** A mentioned or linked page's title and public address, read once per page; null when unreadable. */
  private pageLink(id: string): Promise<NotionPageLink | null> {
    let link = this.pageLinks.get(id);
    if (!link) {
      link = this.client.pages.retrieve({ page_id: id }).then(
        (page: Json) => {
          const title = Object.values((page.properties ?? {}) as Json).find((p: Json) => p?.type === 'title') as Json | undefined;
          return { title: plain(title?.title), publicUrl: typeof page.public_url === 'string' ? page.public_url : null };
        },
        (err: unknown) => {
          if (APIResponseError.isAPIResponseError(err) && (err.code === 'object_not_found' || err.code === 'restricted_resource')) return null;
          throw err;
        },
      );
      this.pageLinks.set(id, link);
    }
    return link;
  }

  /**
   * Rich text items prepared for notion-to-md: absolute link targets, inline equations as
   * code, mentions as what a recipient can read (a page: its text, linked only to its
   * public address; a date: the date; a person or database: the name; a link: its title).
   */
  private async prepareRichText(items: Json[] | undefined): Promise<Json[]> {
    const out: Json[] = [];
    for (const item of items ?? []) {
      if (item.type === 'equation') {
        out.push(textItem(item, String(item.equation?.expression ?? item.plain_text ?? ''), null, { code: true }));
      } else if (item.type === 'mention') {
        out.push(await this.mention(item));
      } else {
        out.push({ ...item, href: item.href ? absoluteHref(String(item.href)) : null });
      }
    }
    return out;
  }

  private async mention(item: Json): Promise<Json> {
    const m: Json = item.mention ?? {};
    const text = String(item.plain_text ?? '');
    switch (m.type) {
      case 'page': {
        const link = m.page?.id ? await this.pageLink(String(m.page.id)) : null;
        return textItem(item, text, link?.publicUrl ?? null);
      }
      case 'date':
        return textItem(item, dateMentionText(m.date), null);
      case 'link_mention':
        return textItem(item, String(m.link_mention?.title || text || m.link_mention?.href || ''), m.link_mention?.href ?? item.href ?? null);
      case 'link_preview':
        return textItem(item, text || String(m.link_preview?.url ?? ''), m.link_preview?.url ?? item.href ?? null);
      case 'custom_emoji':
        return textItem(item, text || `:${String(m.custom_emoji?.name ?? '')}:`, null);
      default:
        // user, database, template_mention and types to come: their text, never a private Notion link.
        return textItem(item, text, null);
    }
  }

  /** The whole page (or any block with children) as Markdown. */
  async convert(pageId: string): Promise<ConversionResult> {
    const blocks = await this.source.children(pageId);
    const markdown = (await this.renderBlocks(blocks)).trim() + '\n';
    return { markdown, warnings: this.warnings(), notionFileUrls: [...this.fileUrls] };
  }

  /** Blocks already fetched (no page call) as Markdown. */
  async convertBlocks(blocks: NotionBlock[]): Promise<ConversionResult> {
    const markdown = (await this.renderBlocks(blocks)).trim() + '\n';
    return { markdown, warnings: this.warnings(), notionFileUrls: [...this.fileUrls] };
  }

  private warnings(): string[] {
    return [...this.skipped.entries()].map(([reason, n]) => (n > 1 ? `${reason} (${n} blocks)` : reason));
  }

  private skip(reason: string): null {
    this.skipped.set(reason, (this.skipped.get(reason) ?? 0) + 1);
    return null;
  }

  async richText(items: Json[] | undefined): Promise<string> {
    const prepared = await this.prepareRichText(items);
    if (prepared.length === 0) return '';
    return this.n2m.blockToMarkdown({ type: 'paragraph', paragraph: { rich_text: prepared, color: 'default' } } as never);
  }

  private async childrenOf(b: NotionBlock, id = b.id): Promise<NotionBlock[]> {
    if (!b.has_children && id === b.id) return [];
    return this.source.children(id);
  }

  private async renderBlocks(blocks: NotionBlock[]): Promise<string> {
    const parts: Part[] = [];
    let number = 0;
    for (const b of blocks) {
      number = b.type === 'numbered_list_item' ? number + 1 : 0;
      let part: Part | null;
      try {
        part = await this.renderBlock(b, number);
      } catch (err) {
        if (APIResponseError.isAPIResponseError(err) && err.code !== 'object_not_found') throw err;
        if (!APIResponseError.isAPIResponseError(err) && !(err instanceof TypeError)) throw err;
        part = this.skip(`Skipped a ${b.type} block that could not be read (${(err as Error).message.slice(0, 120)})`);
      }
      if (part && part.md.trim() !== '') parts.push(part);
    }
    let out = '';
    for (let i = 0; i < parts.length; i += 1) {
      const p = parts[i]!;
      const prev = parts[i - 1];
      if (prev) out += prev.kind === p.kind && p.kind !== 'block' ? '\n' : '\n\n';
      out += p.md;
    }
    return out;
  }

  /** A list item: marker, text, and its children indented under the text. */
  private async listItem(b: NotionBlock, marker: string, kind: Kind): Promise<Part> {
    const text = await this.richText(b[b.type]?.rich_text);
    let md = `${marker}${text || '&nbsp;'}`;
    const children = await this.childrenOf(b);
    if (children.length > 0) {
      const inner = await this.renderBlocks(children);
      if (inner.trim()) {
        const firstIsList = /^(\s*)([-*]|\d+\.) /.test(inner);
        md += (firstIsList ? '\n' : '\n\n') + indent(inner, marker.length);
      }
    }
    return { kind, md };
  }

  private async withChildren(b: NotionBlock, head: string): Promise<string> {
    const children = await this.childrenOf(b);
    if (children.length === 0) return head;
    const inner = await this.renderBlocks(children);
    return [head, inner].filter((s) => s.trim() !== '').join('\n\n');
  }

  private async renderBlock(b: NotionBlock, number: number): Promise<Part | null> {
    const data: Json = b[b.type] ?? {};
    const block = (md: string): Part => ({ kind: 'block', md });
    switch (b.type) {
      case 'paragraph': {
        const text = await this.richText(data.rich_text);
        return block(await this.withChildren(b, text));
      }
      case 'heading_1':
      case 'heading_2':
      case 'heading_3':
      case 'heading_4': {
        const level = Math.min(3, Number(b.type.slice(-1)));
        const text = await this.richText(data.rich_text);
        if (!text.trim()) return null;
        return block(await this.withChildren(b, `${'#'.repeat(level)} ${text}`));
      }
      case 'bulleted_list_item':
        return this.listItem(b, '- ', 'bulleted');
      case 'numbered_list_item':
        return this.listItem(b, `${number}. `, 'numbered');
      case 'to_do':
        return this.listItem(b, data.checked ? '* [x] ' : '* [ ] ', 'todo');
      case 'quote': {
        const text = await this.richText(data.rich_text);
        return block(blockquote(await this.withChildren(b, text)));
      }
      case 'callout': {
        const icon = this.calloutIcon(data.icon);
        const text = await this.richText(data.rich_text);
        return block(blockquote(await this.withChildren(b, `${icon}${text}`)));
      }
      case 'toggle': {
        // Rendered open: the summary in bold, then everything inside it.
        const text = await this.richText(data.rich_text);
        return block(await this.withChildren(b, text ? `<strong>${text}</strong>` : ''));
      }
      case 'code': {
        const code = plain(data.rich_text);
        const runs = code.match(/`{3,}/g) ?? [];
        const fence = '`'.repeat(Math.max(3, ...runs.map((r) => r.length + 1)));
        const lang = String(data.language ?? '').replace(/[^A-Za-z0-9_+#-]/g, '');
        const caption = plain(data.caption);
        return block(`${fence}${lang === 'plaintext' ? '' : lang}\n${code.replace(/\n$/, '')}\n${fence}${caption ? `\n\n*${escapeMarkdown(caption)}*` : ''}`);
      }
      case 'divider':
        return block('---');
      case 'equation':
        return block(codeSpan(String(data.expression ?? '')));
      case 'image': {
        const url = this.fileUrl(data);
        if (!url) return this.skip('Skipped an image without a URL');
        const caption = plain(data.caption).replace(/\s+/g, ' ').trim();
        const title = caption ? ` "${caption.replace(/["\\]/g, '\\$&')}"` : '';
        return block(`![${escapeMarkdown(caption)}](<${absoluteHref(url)}>${title})`);
      }
      case 'bookmark':
      case 'link_preview':
      case 'embed': {
        const url = String(data.url ?? '');
        if (!/^https?:\/\//i.test(url)) return this.skip(`Skipped a ${b.type} block without a web address`);
        const caption = await this.richText(data.caption);
        return block(`[${caption || escapeMarkdown(url)}](<${absoluteHref(url)}>)`);
      }
      case 'video':
      case 'audio':
      case 'file':
      case 'pdf': {
        if (data.type !== 'external') {
          return this.skip(
            `Skipped a ${b.type} uploaded to Notion (its link expires within an hour); link to a copy hosted elsewhere instead`,
          );
        }
        const url = String(data.external?.url ?? '');
        const caption = (await this.richText(data.caption)) || escapeMarkdown(String(data.name ?? '')) || escapeMarkdown(url);
        return block(`[${caption}](<${absoluteHref(url)}>)`);
      }
      case 'table':
        return block(await this.table(b));
      case 'column_list': {
        // Columns are stacked: one after the other, in reading order.
        const columns = await this.childrenOf(b);
        const rendered: string[] = [];
        for (const col of columns) rendered.push(col.type === 'column' ? await this.renderBlocks(await this.childrenOf(col)) : ((await this.renderBlock(col, 0))?.md ?? ''));
        return block(rendered.filter((s) => s.trim()).join('\n\n'));
      }
      case 'column':
      case 'synced_block': {
        const from: string | undefined = data.synced_from?.block_id;
        const children = from ? await this.source.children(from) : await this.childrenOf(b);
        return block(await this.renderBlocks(children));
      }
      case 'child_page':
        return this.skip(`Skipped the sub-page "${String(data.title ?? '')}" (sub-pages are not part of the email)`);
      case 'child_database':
        return this.skip(`Skipped the database "${String(data.title ?? '')}" (databases cannot be shown in an email)`);
      case 'link_to_page': {
        const id = data.page_id ?? data.database_id;
        const link = id ? await this.pageLink(String(id)) : null;
        if (!link?.publicUrl) return this.skip('Skipped a link to a Notion page that is not shared to the web (recipients cannot open it); publish the page or link to a public URL instead');
        return block(`[${escapeMarkdown(link.title || link.publicUrl)}](<${absoluteHref(link.publicUrl)}>)`);
      }
      case 'table_of_contents':
      case 'breadcrumb':
      case 'template':
        return this.skip(`Skipped a ${b.type.replace(/_/g, ' ')} block (it has no meaning in an email)`);
      case 'unsupported':
        return this.skip('Skipped a block the Notion API does not expose (type "unsupported")');
      default: {
        if (Array.isArray(data.rich_text) && data.rich_text.length > 0) {
          this.skip(`Rendered a ${b.type} block as plain text (no email rendering for this type)`);
          return block(await this.richText(data.rich_text));
        }
        return this.skip(`Skipped a ${b.type} block (not supported in emails)`);
      }
    }
  }

  /** A callout's icon as text: an emoji, a custom emoji's name; an image icon is dropped, with a warning. */
  private calloutIcon(icon: Json | null | undefined): string {
    if (!icon) return '';
    if (icon.type === 'emoji' && icon.emoji) return `${icon.emoji} `;
    if (icon.type === 'custom_emoji' && icon.custom_emoji?.name) return `:${escapeMarkdown(String(icon.custom_emoji.name))}: `;
    this.skip(`Dropped a callout's ${String(icon.type)} icon (an image icon is not shown in emails; use an emoji)`);
    return '';
  }

  private fileUrl(data: Json): string | undefined {
    if (data.type === 'external') return data.external?.url;
    if (data.type === 'file') {
      const url = data.file?.url;
      if (url) this.fileUrls.add(url);
      return url;
    }
    if (data.type === 'file_upload') return undefined;
    return undefined;
  }

  private async table(b: NotionBlock): Promise<string> {
    const rows = (await this.childrenOf(b)).filter((r) => r.type === 'table_row');
    if (rows.length === 0) return '';
    const width = Math.max(Number(b.table?.table_width ?? 0), ...rows.map((r) => (r.table_row?.cells ?? []).length));
    const cells: string[][] = [];
    for (const row of rows) {
      const line: string[] = [];
      for (let i = 0; i < width; i += 1) line.push(((await this.richText(row.table_row?.cells?.[i])) || ' ').replace(/\n/g, '<br>'));
      cells.push(line);
    }
    // A row header: each row's first cell in bold.
    if (b.table?.has_row_header) for (const line of cells) if (line[0]!.trim()) line[0] = `**${line[0]}**`;
    // Markdown tables need a header row: without a column header in Notion, an empty one,
    // which the letter does not show (lib/render html-body and text-body).
    const [head, ...body] = b.table?.has_column_header ? cells : [cells[0]!.map(() => ' '), ...cells];
    const fmt = (r: string[]) => `| ${r.join(' | ')} |`;
    return [fmt(head!), fmt(head!.map(() => '---')), ...body.map(fmt)].join('\n');
  }
}
