import type { Config } from '../../lib/config';
import { fail, ok, warn, type Check } from '../../lib/readiness/check';
import type { ReadinessFacts } from './store';

export function checkFooterAddress(config: Pick<Config, 'footerAddress'>): Check {
  if (!config.footerAddress) {
    return fail('Footer address', 'FOOTER_ADDRESS is not set: anti-spam laws require a postal address in every letter', 'Set FOOTER_ADDRESS (e.g. "ООО «Пример», Москва, ул. Тверская, 1").');
  }
  return ok('Footer address', config.footerAddress);
}

/** The resume safety net: CRON_SECRET set, and the pg_cron job `npm run setup:cron` installs. */
export function checkResumeSafetyNet(config: Pick<Config, 'cronSecret'>, facts: ReadinessFacts | null): Check {
  const name = 'Resume safety net';
  if (!config.cronSecret) return warn(name, 'CRON_SECRET is not set: a mailout whose continuation is lost waits for the button', 'Set CRON_SECRET (openssl rand -hex 32), then run npm run setup:cron.');
  if (facts && !facts.resumeJob) return warn(name, 'the pg_cron job mailout-resume is not installed: only the daily Vercel cron resumes', 'Run npm run setup:cron.');
  return ok(name, facts ? 'CRON_SECRET set, pg_cron job mailout-resume installed' : 'CRON_SECRET set');
}

/** Every migration file is applied (versions as the bookkeeping table holds them). */
export function checkMigrations(facts: ReadinessFacts | null, factsError: string | undefined, files: string[]): Check {
  const name = 'Database migrations';
  if (!facts) return fail(name, `the database did not answer readiness_facts (${factsError ?? 'unknown'})`, 'Apply the migrations: npm run migrate (or supabase db push).');
  const applied = new Set(facts.appliedMigrations);
  const pending = files.filter((v) => !applied.has(v));
  if (pending.length) return fail(name, `${pending.length} not applied: ${pending.join(', ')}`, 'Apply them: npm run migrate (or supabase db push).');
  return ok(name, `all ${files.length} applied`);
}
