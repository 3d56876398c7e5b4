import { createClient } from '@supabase/supabase-js';
import { AppError } from '../errors';
import { wrapDbError } from './errors';
import { FUNCTION_NAME, type Db } from './types';

/** Supabase (`SUPABASE_URL` + `SUPABASE_SERVICE_ROLE_KEY`): PostgREST `rpc()`. */
export function createSupabaseDb(url: string, serviceRoleKey: string): Db {
  const client = createClient(url, serviceRoleKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  });
  return {
    kind: 'supabase',
    async rpc<T>(fn: string, args: Record<string, unknown> = {}): Promise<T[]> {
      if (!FUNCTION_NAME.test(fn)) throw new AppError('internal', `Invalid SQL function name: ${fn}`);
      let result;
      try {
        result = await client.rpc(fn, args);
      } catch (err) {
        throw wrapDbError(fn, undefined, (err as Error).message, err);
      }
      const { data, error } = result;
      if (error) {
        const sqlstate = typeof error.code === 'string' && /^[0-9A-Z]{5}$/.test(error.code) ? error.code : undefined;
        throw wrapDbError(fn, sqlstate, error.message || 'the database request failed', error);
      }
      if (data === null || data === undefined) return [];
      return (Array.isArray(data) ? data : [data]) as T[];
    },
    close: async () => undefined,
  };
}
