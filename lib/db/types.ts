/** One interface to the database, whatever reaches it: every state change is a SQL function. */
export interface Db {
  readonly kind: 'postgres' | 'supabase';
  /** Call the SQL function `public.<fn>` with named arguments and return its rows. */
  rpc<T = Record<string, unknown>>(fn: string, args?: Record<string, unknown>): Promise<T[]>;
  close(): Promise<void>;
  /**
   * Open this many connections now, in the background, so that calls made at once later
   * (the send loop's claim, marks and outcomes) find one ready instead of each paying a
   * connection's round trips. Optional: a no-op where connections are cheap.
   */
  warm?(connections: number): void;
}

export const FUNCTION_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
