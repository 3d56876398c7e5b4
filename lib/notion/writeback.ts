import type { Client } from '@notionhq/client';
import type { Config } from '../config';
import type { FinishResult, LetterOrigin, MailoutCounts } from '../db/ledger';
import { log } from '../log';
import { reportUrl } from '../report';
import type { MailoutReporter } from '../mailout-reporter';
import { dataSourceOfDatabase, dataSourceOfPage, pageRoles, type DataSourceSchema } from './data-source';
import { ERROR_PROPERTIES, findRoles, MAILOUT_PROPERTIES, statusOption, type ErrorRole, type MailoutRole, type RoleReport, type StatusKey } from './schema';

/**
 * Writes the outcome of a mailout onto its Notion page (status, counts, sent at, report
 * link, last error) and each failed recipient into the "Errors" database. Properties are
 * found by role (lib/notion/schema.ts), whatever the user renamed them to; only roles the
 * page has are written, with the type it has (Status may be a select or a status), and the
 * status in the page's own words. Errors rows are created under the Errors database's data
 * source. Every call is rate-limited by the client and failures are logged, never thrown.
 */

type Json = Record<string, unknown>;
type MailoutValues = Partial<Record<MailoutRole, unknown>>;

/** What a page's roles are called and typed now, and the options of its Status. */
interface PageRoles {
  roles: RoleReport<MailoutRole>;
  statusOptions?: { name: string }[];
}

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

const STATUS_KEY: Record<FinishResult['status'], StatusKey> = {
  sending: 'sending',
  sent: 'sent',
  paused: 'paused',
  failed: 'failed',
};

/** A status to write, turned into the page's option name once its roles are known. */
class Status {
  constructor(readonly key: StatusKey) {}
}

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
  const known = new Map<string, PageRoles>();
  let errorsSource: Promise<{ schema: DataSourceSchema; roles: RoleReport<ErrorRole> }> | undefined;
  const origins = new Map<string, LetterOrigin | 'unknown' | null>();

  async function fromNotion(mailoutId: string): Promise<boolean> {
    // Fixed at the first claim, so remembered once known.
    const origin = origins.get(mailoutId) ?? (await opts.origin(mailoutId));
    if (origin) origins.set(mailoutId, origin);
    return origin === 'notion';
  }

  async function rolesOf(pageId: string): Promise<PageRoles> {
    const have = known.get(pageId);
    if (have) return have;
    const page = (await client.pages.retrieve({ page_id: pageId })) as Record<string, any>;
    const schema = await dataSourceOfPage(client, page);
    const roles = pageRoles(page, schema, MAILOUT_PROPERTIES);
    const status = roles.found.status ? Object.values(schema?.properties ?? {}).find((p) => p.id === roles.found.status!.id) : undefined;
    const found: PageRoles = { roles, statusOptions: status?.select?.options ?? status?.status?.options };
    if (roles.missing.some((m) => m.role === 'status')) {
      log.warn('notion.property_missing', { page_id: pageId, missing: roles.missing.map((m) => m.name) });
    }
    known.set(pageId, found);
    return found;
  }

  /** `claimed: false`: a test send, whose caller read the letter from the page itself. */
  async function update(mailoutId: string, what: string, values: MailoutValues, claimed = true): Promise<void> {
    if (!NOTION_ID.test(mailoutId)) return; // not a Notion page (a direct call or a Markdown file)
    try {
      if (claimed && !(await fromNotion(mailoutId))) return;
      const { roles, statusOptions } = await rolesOf(mailoutId);
      const properties: Record<string, Json> = {};
      for (const [role, v] of Object.entries(values) as [MailoutRole, unknown][]) {
        const prop = roles.found[role];
        if (!prop) continue;
        const encoded = value(prop.type, v instanceof Status ? statusOption(v.key, statusOptions, roles.lang) : v);
        if (encoded) properties[prop.name] = encoded;
      }
      if (Object.keys(properties).length === 0) return;
      await client.pages.update({ page_id: mailoutId, properties: properties as never });
    } catch (err) {
      log.warn('notion.writeback_failed', { mailout_id: mailoutId, what, error: err });
    }
  }

  async function feedbackProps(mailoutId: string): Promise<MailoutValues> {
    const f = opts.feedback ? await opts.feedback(mailoutId).catch(() => null) : null;
    return f ? { delivered: f.delivered, bounced: f.hardBounces, complaints: f.complaints } : {};
  }

  /** The Errors data source and its roles, read once per reporter. */
  function errorsDataSource(databaseId: string) {
    errorsSource ??= dataSourceOfDatabase(client, databaseId, 'The Errors database').then((schema) => ({
      schema,
      roles: findRoles(schema.properties, ERROR_PROPERTIES),
    }));
    errorsSource.catch(() => (errorsSource = undefined));
    return errorsSource;
  }

  async function errorRow(databaseId: string, mailoutId: string, row: { email: string; code: string; message: string }, at: string) {
    const { schema, roles } = await errorsDataSource(databaseId);
    const values: Record<ErrorRole, string> = { email: row.email, mailout: mailoutId, code: row.code, message: row.message, at };
    const properties: Record<string, Json> = {};
    for (const [role, v] of Object.entries(values) as [ErrorRole, string][]) {
      const prop = roles.found[role];
      const encoded = prop ? value(prop.type, v) : null;
      if (prop && encoded) properties[prop.id] = encoded;
    }
    await client.pages.create({ parent: { type: 'data_source_id', data_source_id: schema.id }, properties } as never);
  }

  return {
    async sending(mailoutId, info) {
      await update(mailoutId, 'sending', {
        status: new Status('sending'),
        recipients: info.recipients,
        lastError: [info.resumed ? `Resumed with ${info.queued} recipients left.` : '', ...(info.warnings ?? []).map((w) => `⚠ ${w}`)]
          .filter(Boolean)
          .join('\n'),
        report: reportUrl(config, mailoutId),
      });
    },
    async progress(mailoutId, counts) {
      await update(mailoutId, 'progress', {
        sent: counts.sent,
        failed: counts.failed,
        skipped: counts.skipped,
        unknown: counts.unknown,
      });
    },
    async finished(mailoutId, final) {
      await update(mailoutId, 'finished', {
        status: new Status(STATUS_KEY[final.status]),
        recipients: final.recipients,
        sent: final.sent,
        failed: final.failed,
        skipped: final.skipped,
        unknown: final.unknown,
        ...(final.sentAt ? { sentAt: final.sentAt } : {}),
        report: reportUrl(config, mailoutId),
        lastError: final.lastError ?? '',
        ...(await feedbackProps(mailoutId)),
      });
    },
    async duplicate(mailoutId, reason) {
      await update(mailoutId, 'duplicate', { lastError: `${new Date().toISOString()}: ${reason}`, report: reportUrl(config, mailoutId) });
    },
    async refused(mailoutId, reason) {
      await update(mailoutId, 'refused', { lastError: `${new Date().toISOString()}: ${reason}` });
    },
    async notSent(mailoutId, failure) {
      const at = new Date().toISOString();
      // Not claimed: the page is the webhook's, already admitted as a mailout (no stored origin yet).
      await update(mailoutId, 'not_sent', { status: new Status('failed'), lastError: `${at}: ${failure.message}` }, false);
      const dbId = config.notion.errorsDatabaseId;
      if (!dbId) return;
      await errorRow(dbId, mailoutId, { email: '', ...failure }, at).catch((err: unknown) =>
        log.warn('notion.error_row_failed', { mailout_id: mailoutId, error: err }),
      );
    },
    async testSent(mailoutId, info) {
      await update(mailoutId, 'test', {
        lastError: [
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
          await errorRow(dbId, mailoutId, row, now);
        } catch (err) {
          log.warn('notion.error_row_failed', { mailout_id: mailoutId, error: err });
          break;
        }
      }
      if (rows.length > room) log.info('notion.errors_capped', { mailout_id: mailoutId, written: room, total: rows.length });
    },
    async refreshCounts(mailoutId, counts) {
      await update(mailoutId, 'refresh', {
        ...(counts.sent !== undefined ? { sent: counts.sent } : {}),
        ...(counts.failed !== undefined ? { failed: counts.failed } : {}),
        ...(await feedbackProps(mailoutId)),
        // Report links expire: every write renews the one on the page.
        report: reportUrl(config, mailoutId),
      });
    },
  };
}
