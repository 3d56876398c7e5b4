import { Client } from 'pg';

/**
 * The resume safety net on Supabase (any Vercel plan): the pg_cron job `mailout-resume`,
 * installed by the SQL function schedule_mailout_resume (supabase/migrations/
 * 20261201151137_resume_schedule.sql). Every minute it checks, inside Postgres, whether a
 * mailout waits, and only then calls GET /api/cron/resume through pg_net with CRON_SECRET,
 * which it keeps in Supabase Vault.
 */

export interface ResumeScheduleOptions {
  appBaseUrl: string;
  cronSecret: string;
  /** Minutes between checks (1-59); the default 1 resumes within LEASE_SECONDS + 1 minute. */
  everyMinutes?: number;
}

export function cronSchedule(everyMinutes = 1): string {
  if (!Number.isInteger(everyMinutes) || everyMinutes < 1 || everyMinutes > 59) {
    throw new Error('--every must be a whole number of minutes from 1 to 59.');
  }
  return everyMinutes === 1 ? '* * * * *' : `*/${everyMinutes} * * * *`;
}

async function withClient<T>(databaseUrl: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Store the secret in Vault and (re)schedule the job; throws the database's reason (MR002: extensions absent). */
export async function scheduleResume(databaseUrl: string, opts: ResumeScheduleOptions): Promise<string> {
  const schedule = cronSchedule(opts.everyMinutes);
  return withClient(databaseUrl, async (c) => {
    const { rows } = await c.query<{ result: string }>('select public.schedule_mailout_resume($1, $2, $3) as result', [opts.appBaseUrl, opts.cronSecret, schedule]);
    return rows[0]!.result;
  });
}

/** Remove the job and its secret; false when there was no job. */
export async function unscheduleResume(databaseUrl: string): Promise<boolean> {
  return withClient(databaseUrl, async (c) => {
    const { rows } = await c.query<{ found: boolean }>('select public.unschedule_mailout_resume() as found');
    return rows[0]!.found;
  });
}
