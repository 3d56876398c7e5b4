import { createClient } from '@supabase/supabase-js';
import WebSocket from 'ws';
import { AppError } from '../errors';
import { wrapDbError } from './errors';
import { FUNCTION_NAME, type Db } from './types';

/**
 * A partial answer is an error naming the call, never a short result: PostgREST caps every
 * answer at db-max-rows (1,000 on Supabase), RPC included, and says so only in the total of
 * Content-Range (and a 206). Whatever can be longer than that is read in pages.
 */
function refusePartial(fn: string, received: number, total: number | null, status: number): void {
  if ((total !== null && Number.isFinite(total) && total > received) || status === 206) {
    throw new AppError(
      'database',
      `${fn}: PostgREST answered ${received} of ${total ?? 'more'} rows (its db-max-rows limit, "Max rows" in Supabase's API settings); ` +
        'this call must be read in pages.',
      { details: { received, total } },
    );
  }
}

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
        // count=exact: PostgREST then says how many rows the call made (Content-Range 0-999/2500),
        // the only way to tell that db-max-rows cut the answer short.
        result = await client.rpc(fn, args, { count: 'exact' });
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
      const rows = (Array.isArray(data) ? data : [data]) as T[];
      refusePartial(fn, rows.length, result.count, result.status);
      return rows;
    },
    close: async () => undefined,
  };
}
