/**
 * npm run setup:cron -- [--every MINUTES] [--remove]
 *
 * Installs the resume safety net in Supabase: a pg_cron job that calls
 * ${APP_BASE_URL}/api/cron/resume (through pg_net, CRON_SECRET kept in Vault) whenever a
 * mailout's lease expired, checked every minute. Works on Vercel Hobby, whose crons run once
 * a day. Env: DATABASE_URL (Supabase: Project Settings -> Database -> connection string),
 * APP_BASE_URL, CRON_SECRET. Exit codes: 0 done, 1 the database refused, 2 bad usage.
 */
import { parseArgs } from 'node:util';
import { env } from '../lib/config';
import { scheduleResume, unscheduleResume } from './setup/cron';
import { loadCliEnv } from './lib/env';

const USAGE = `Usage: npm run setup:cron -- [--every MINUTES] [--remove]
Env: DATABASE_URL (the Supabase database), APP_BASE_URL, CRON_SECRET.`;

function usage(message: string): never {
  process.stderr.write(`${message}\n\n${USAGE}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  loadCliEnv();
  let values;
  try {
    values = parseArgs({ options: { every: { type: 'string' }, remove: { type: 'boolean', default: false } }, allowPositionals: false }).values;
  } catch (err) {
    usage((err as Error).message);
  }
  const databaseUrl = env('DATABASE_URL');
  if (!databaseUrl) usage('Set DATABASE_URL to the Supabase database (Project Settings -> Database -> connection string).');
  if (values.remove) {
    const found = await unscheduleResume(databaseUrl);
    console.log(found ? 'removed the pg_cron job mailout-resume and its Vault secret' : 'no pg_cron job mailout-resume to remove');
    return;
  }
  const appBaseUrl = env('APP_BASE_URL');
  const cronSecret = env('CRON_SECRET');
  if (!appBaseUrl) usage('Set APP_BASE_URL to the deployment URL, e.g. https://mailout.example.com.');
  if (!cronSecret) usage('Set CRON_SECRET (the same value as in the Vercel project; openssl rand -hex 32).');
  const everyMinutes = values.every === undefined ? 1 : Number(values.every);
  let result: string;
  try {
    result = await scheduleResume(databaseUrl, { appBaseUrl, cronSecret, everyMinutes });
  } catch (err) {
    const e = err as Error & { hint?: string };
    if (e.message.startsWith('--every')) usage(e.message);
    console.error(e.hint ? `${e.message}\n${e.hint}` : e.message);
    process.exit(1);
  }
  console.log(result);
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
