import type { Client } from '@notionhq/client';
import type { Config } from '../config';
import type { FinishResult, LetterOrigin, MailoutCounts } from '../db/ledger';
import { log } from '../log';
import { reportUrl } from '../report';
import type { MailoutReporter } from '../mailout-reporter';
import { MAILOUT_STATUS } from './schema';

/**
 * Writes the outcome of a mailout onto its Notion page (status, counts, sent at, report
 * link, last error) and each failed recipient into the "Errors" database. Only properties
 * the page has are written, with the type it has (Status may be a select or a status).
 * Every call is rate-limited by the client and failures are logged, never thrown.
 */

type PropertyTypes = Record<string, string>;
type Json = Record<string, unknown>;

const NOTION_ID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
/** Rows written to the Errors database per mailout; the CSV report has them all. */
export const ERRORS_CAP = 50;

function richText(text: string): Json[] {
  return text ? [{ type: 'text', text: { content: text.slice(0, 1900) } }] : [];
}

function value(type: string, v: unknown): Json | null {
  switch (type) {
    case 'number':
      return { number: typeof v === 'number' ? v : null };
    case 'select':
      return { select: v ? { name: String(v) } : null };
    case 'status':
      return { status: v ? { name: String(v) } : null };
    case 'date':
      return { date: v ? { start: v instanceof Date ? v.toISOString() : String(v) } : null };
    case 'url':
      return { url: v ? String(v) : null };
    case 'rich_text':
      return { rich_text: richText(v ? String(v) : '') };
    case 'title':
      return { title: richText(v ? String(v) : '') };
    default:
      return null;
  }
}

const STATUS_NAME: Record<FinishResult['status'], string> = {
  sending: MAILOUT_STATUS.sending,
  sent: MAILOUT_STATUS.sent,
  paused: MAILOUT_STATUS.paused,
  failed: MAILOUT_STATUS.failed,
};

export interface FeedbackCounts {
  delivered: number;
  hardBounces: number;
  complaints: number;
}

export function createNotionReporter(
  client: Client,
  config: Pick<Config, 'appBaseUrl' | 'reportSecret' | 'notion'> & Partial<Pick<Config, 'reportLinkDays'>>,
  opts: {
    feedback?: (mailoutId: string) => Promise<FeedbackCounts | null>;
    /** Where a claimed mailout's letter came from: only one from a Notion page is written back. */
    origin: (mailoutId: string) => Promise<LetterOrigin | 'unknown' | null>;
  },
): MailoutReporter & { refreshCounts(mailoutId: string, counts: Partial<MailoutCounts>): Promise<void> } {
  const types = new Map<string, PropertyTypes>();
  const origins = new Map<string, LetterOrigin | 'unknown' | null>();

  async function fromNotion(mailoutId: string): Promise<boolean> {
    // Fixed at the first claim, so remembered once known.
    const origin = origins.get(mailoutId) ?? (await opts.origin(mailoutId));
    if (origin) origins.set(mailoutId, origin);
    return origin === 'notion';
  }

  async function propertyTypes(pageId: string): Promise<PropertyTypes> {
    const known = types.get(pageId);
    if (known) return known;
    const page = (await client.pages.retrieve({ page_id: pageId })) as { properties?: Record<string, { type: string }> };
    const t: PropertyTypes = {};
    for (const [name, p] of Object.entries(page.properties ?? {})) t[name] = p.type;
    types.set(pageId, t);
    return t;
  }

  /** `claimed: false`: a test send, whose caller read the letter from the page itself. */
  async function update(mailoutId: string, what: string, props: Record<string, unknown>, claimed = true): Promise<void> {
    if (!NOTION_ID.test(mailoutId)) return; // not a Notion page (a direct call or a Markdown file)
    try {
      if (claimed && !(await fromNotion(mailoutId))) return;
      const t = await propertyTypes(mailoutId);
      const properties: Record<string, Json> = {};
      for (const [name, v] of Object.entries(props)) {
        const type = t[name];
        const encoded = type ? value(type, v) : null;
        if (encoded) properties[name] = encoded;
      }
      if (Object.keys(properties).length === 0) return;
      await client.pages.update({ page_id: mailoutId, properties: properties as never });
    } catch (err) {
      log.warn('notion.writeback_failed', { mailout_id: mailoutId, what, error: err });
    }
  }

  async function feedbackProps(mailoutId: string): Promise<Record<string, unknown>> {
    const f = opts.feedback ? await opts.feedback(mailoutId).catch(() => null) : null;
    return f ? { Delivered: f.delivered, Bounced: f.hardBounces, Complaints: f.complaints } : {};
  }

  return {
    async sending(mailoutId, info) {
      await update(mailoutId, 'sending', {
        Status: MAILOUT_STATUS.sending,
        Recipients: info.recipients,
        'Last error': [info.resumed ? `Resumed with ${info.queued} recipients left.` : '', ...(info.warnings ?? []).map((w) => `⚠ ${w}`)]
          .filter(Boolean)
          .join('\n'),
        Report: reportUrl(config, mailoutId),
      });
    },
    async progress(mailoutId, counts) {
      await update(mailoutId, 'progress', {
        Sent: counts.sent,
        Failed: counts.failed,
        Skipped: counts.skipped,
        Unknown: counts.unknown,
      });
    },
    async finished(mailoutId, final) {
      await update(mailoutId, 'finished', {
        Status: STATUS_NAME[final.status],
        Recipients: final.recipients,
        Sent: final.sent,
        Failed: final.failed,
        Skipped: final.skipped,
        Unknown: final.unknown,
        ...(final.sentAt ? { 'Sent at': final.sentAt } : {}),
        Report: reportUrl(config, mailoutId),
        'Last error': final.lastError ?? '',
        ...(await feedbackProps(mailoutId)),
      });
    },
    async duplicate(mailoutId, reason) {
      await update(mailoutId, 'duplicate', { 'Last error': `${new Date().toISOString()}: ${reason}`, Report: reportUrl(config, mailoutId) });
    },
    async refused(mailoutId, reason) {
      await update(mailoutId, 'refused', { 'Last error': `${new Date().toISOString()}: ${reason}` });
    },
    async testSent(mailoutId, info) {
      await update(mailoutId, 'test', {
        'Last error': [
          `Test sent ${new Date().toISOString()} to ${info.recipients.join(', ')}: ${info.sent} sent, ${info.failed} failed.`,
          ...(info.warnings ?? []).map((w) => `Warning: ${w}`),
        ].join('\n'),
      }, false);
    },
    async errors(mailoutId, rows, earlierFailures) {
      const dbId = config.notion.errorsDatabaseId;
      if (!dbId || rows.length === 0) return;
      // Earlier invocations wrote a row for each of their failures, up to the cap.
      const room = Math.max(0, ERRORS_CAP - earlierFailures);
      const now = new Date().toISOString();
      for (const row of rows.slice(0, room)) {
        try {
          await client.pages.create({
            parent: { database_id: dbId },
            properties: {
              Email: { title: richText(row.email) },
              Mailout: { rich_text: richText(mailoutId) },
              Code: { rich_text: richText(row.code) },
              Message: { rich_text: richText(row.message) },
              At: { date: { start: now } },
            },
          } as never);
        } catch (err) {
          log.warn('notion.error_row_failed', { mailout_id: mailoutId, error: err });
          break;
        }
      }
      if (rows.length > room) log.info('notion.errors_capped', { mailout_id: mailoutId, written: room, total: rows.length });
    },
    async refreshCounts(mailoutId, counts) {
      await update(mailoutId, 'refresh', {
        ...(counts.sent !== undefined ? { Sent: counts.sent } : {}),
        ...(counts.failed !== undefined ? { Failed: counts.failed } : {}),
        ...(await feedbackProps(mailoutId)),
        // Report links expire: every write renews the one on the page.
        Report: reportUrl(config, mailoutId),
      });
    },
  };
}
