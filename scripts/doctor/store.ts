import type { Db } from '../../lib/db';

/** readiness_facts(): what the doctor asks the database. */
export interface ReadinessFacts {
  activeSubscribers: number;
  appliedMigrations: string[];
  resumeJob: boolean;
}

export async function readinessFacts(db: Db): Promise<ReadinessFacts> {
  const row = (await db.rpc<{ active_subscribers: number; applied_migrations: string[] | null; resume_job: boolean }>('readiness_facts'))[0];
  return {
    activeSubscribers: Number(row?.active_subscribers ?? 0),
    appliedMigrations: row?.applied_migrations ?? [],
    resumeJob: row?.resume_job === true,
  };
}
