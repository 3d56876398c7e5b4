/** One interface to the database, whatever reaches it: every state change is a SQL function. */
export interface Db {
  readonly kind: 'postgres' | 'supabase';
  /** Call the SQL function `public.<fn>` with named arguments and return its rows. */
  rpc<T = Record<string, unknown>>(fn: string, args?: Record<string, unknown>): Promise<T[]>;
  close(): Promise<void>;
}

export const FUNCTION_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
