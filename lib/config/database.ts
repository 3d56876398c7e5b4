import { z } from 'zod';
import { registerSecret } from '../log';
import type { Values } from './env';
import { incomplete } from './errors';
import { optionalHttpUrl, optionalSecret } from './parsers';

/** The database: Supabase's API, or a Postgres connection string. */
export const databaseVariables = {
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// connection string')
    .optional()
    .describe('a Postgres connection string'),
  SUPABASE_URL: optionalHttpUrl.describe('https://<project>.supabase.co'),
  SUPABASE_SERVICE_ROLE_KEY: optionalSecret(20).describe("the project's service_role key"),
};

export type DbConfig =
  | { kind: 'supabase'; url: string; serviceRoleKey: string }
  | { kind: 'postgres'; url: string };

/** The one database rule: Supabase when its variables are set (both, or it is an error), else DATABASE_URL, else none. */
export function databaseOf(env: Values<typeof databaseVariables>): DbConfig | null {
  if (env.SUPABASE_URL || env.SUPABASE_SERVICE_ROLE_KEY) {
    if (!env.SUPABASE_URL || !env.SUPABASE_SERVICE_ROLE_KEY) {
      const only = env.SUPABASE_URL ? 'SUPABASE_URL' : 'SUPABASE_SERVICE_ROLE_KEY';
      throw incomplete([`set both SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY (only ${only} is set)`], '');
    }
    return { kind: 'supabase', url: env.SUPABASE_URL, serviceRoleKey: env.SUPABASE_SERVICE_ROLE_KEY };
  }
  return env.DATABASE_URL ? { kind: 'postgres', url: env.DATABASE_URL } : null;
}

export function registerDatabaseSecrets(db: DbConfig): void {
  if (db.kind === 'supabase') registerSecret(db.serviceRoleKey);
  else registerSecret(safePassword(db.url));
}

function safePassword(url: string): string | undefined {
  try {
    return decodeURIComponent(new URL(url).password) || undefined;
  } catch {
    return undefined;
  }
}
