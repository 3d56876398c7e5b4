import type { Client } from '@notionhq/client';
import { createApp } from '../../lib/app';
import type { Config } from '../../lib/config';
import type { Db } from '../../lib/db';
import { listMigrations } from '../db/migrate';
import { errorText, warn, type Check } from '../../lib/readiness/check';
import { readinessClients, senderChecks, type ReadinessClients } from '../../lib/readiness/checks';
import { checkNotionDatabase } from './notion';
import { checkFooterAddress, checkMigrations, checkResumeSafetyNet } from './settings';
import { readinessFacts, type ReadinessFacts } from './store';

const MARK: Record<Check['status'], string> = { ok: '✔', warn: '⚠', fail: '✖' };

/** The lines `npm run doctor` prints for these checks, and its exit code (1 while a ✖ remains). */
export function doctorReport(checks: Check[]): { lines: string[]; code: 0 | 1 } {
  const lines = checks.flatMap((c) => [`${MARK[c.status]} ${c.name}: ${c.detail}`, ...(c.fix ? [`    fix: ${c.fix}`] : [])]);
  const failed = checks.filter((c) => c.status === 'fail').length;
  const warned = checks.filter((c) => c.status === 'warn').length;
  lines.push(failed ? `✖ Not ready: ${failed} check(s) refuse a live send, ${warned} warning(s).` : `✔ Ready for a live send (${warned} warning(s)).`);
  return { lines, code: failed ? 1 : 0 };
}

/** Every check, against the clients this configuration builds (`npm run doctor`, `npm start`). */
export async function runDoctor(config: Config): Promise<{ lines: string[]; code: 0 | 1 }> {
  // The process's shared database adapter (getDb): left open for the caller (npm start keeps using it).
  const app = createApp(config);
  return doctorReport(await doctorChecks(config, { ...readinessClients(config, app.ses), db: app.db, notion: app.notion }));
}

/** Every check `npm run doctor` prints, in order. */
export async function doctorChecks(config: Config, clients: ReadinessClients & { db: Db; notion: Client | null }): Promise<Check[]> {
  let facts: ReadinessFacts | null = null;
  let factsError: string | undefined;
  try {
    facts = await readinessFacts(clients.db);
  } catch (err) {
    factsError = errorText(err);
  }
  const sender = await senderChecks(config, clients, facts?.activeSubscribers ?? 0);
  return [
    ...sender,
    checkFooterAddress(config),
    ...(await notionChecks(config, clients.notion)),
    checkResumeSafetyNet(config, facts),
    checkMigrations(facts, factsError, listMigrations().map((m) => m.version)),
  ];
}

async function notionChecks(config: Config, notion: Client | null): Promise<Check[]> {
  if (!notion) {
    return [warn('Notion', 'NOTION_TOKEN is not set: only Markdown mailouts can be sent (npm run send -- FILE.md)', 'Set NOTION_TOKEN (notion.so/profile/integrations → your integration → Internal Integration Secret).')];
  }
  return [
    await checkNotionDatabase(notion, { title: 'Mailouts', envVar: 'NOTION_MAILOUTS_DATABASE_ID', id: config.notion.mailoutsDatabaseId, which: 'mailouts' }),
    await checkNotionDatabase(notion, { title: 'Errors', envVar: 'NOTION_ERRORS_DATABASE_ID', id: config.notion.errorsDatabaseId, which: 'errors' }),
  ];
}
