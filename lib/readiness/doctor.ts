import { createApp } from '../app';
import type { Config } from '../config';
import type { Check } from './check';
import { doctorChecks, readinessClients } from './checks';

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
