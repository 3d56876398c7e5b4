import { createClient } from '@supabase/supabase-js';
import WebSocket from 'ws';
import { AppError } from '../errors';
import { wrapDbError } from './errors';
import { FUNCTION_NAME, type Db } from './types';

/** Supabase (`SUPABASE_URL` + `SUPABASE_SERVICE_ROLE_KEY`): PostgREST `rpc()`. */
export function createSupabaseDb(url: string, serviceRoleKey: string): Db {
  const client = createClient(url, serviceRoleKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    // Node 20 has no global WebSocket and supabase-js refuses to start without one, even
    // though the executor never opens a realtime channel.
    realtime: { transport: WebSocket as never },
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
      if (error && (result.status === 401 || result.status === 403) && !error.code) {
        throw new AppError('config', `${fn}: Supabase refused the key; check SUPABASE_SERVICE_ROLE_KEY (the service_role key, not the anon key).`);
      }
      if (error) {
        // PGRST202: PostgREST found no such function (the migrations are not applied).
        const code = error.code === 'PGRST202' ? '42883' : error.code;
        const sqlstate = typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
        throw wrapDbError(fn, sqlstate, error.message || 'the database request failed', error);
      }
      if (data === null || data === undefined) return [];
      return (Array.isArray(data) ? data : [data]) as T[];
    },
    close: async () => undefined,
  };
}
