import { Pool, type PoolConfig } from 'pg';
import { AppError } from '../errors';
import { wrapDbError } from './errors';
import { FUNCTION_NAME, type Db } from './types';

/** JS objects and arrays of objects travel as JSON; arrays of scalars as Postgres arrays. */
function toParam(value: unknown): unknown {
  if (value === undefined) return null;
  if (value instanceof Date || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value) && value.every((v) => v === null || typeof v !== 'object')) return value;
  return JSON.stringify(value);
}

/** Direct Postgres (`DATABASE_URL`): `select * from public.fn(arg => $1, ...)`. */
export function createPostgresDb(url: string, options: Omit<PoolConfig, 'connectionString'> = {}): Db & { pool: Pool } {
  const pool = new Pool({ connectionString: url, max: 10, idleTimeoutMillis: 10_000, ...options });
  // An idle client that loses its connection must not crash the process.
  pool.on('error', () => undefined);
  return {
    kind: 'postgres',
    pool,
    async rpc<T>(fn: string, args: Record<string, unknown> = {}): Promise<T[]> {
      if (!FUNCTION_NAME.test(fn)) throw new AppError('internal', `Invalid SQL function name: ${fn}`);
      const names = Object.keys(args);
      for (const n of names) if (!FUNCTION_NAME.test(n)) throw new AppError('internal', `Invalid argument name: ${n}`);
      const sql = `select * from public.${fn}(${names.map((n, i) => `${n} => $${i + 1}`).join(', ')})`;
      try {
        const res = await pool.query(sql, names.map((n) => toParam(args[n])));
        return res.rows as T[];
      } catch (err) {
        const e = err as Error & { code?: string };
        throw wrapDbError(fn, typeof e.code === 'string' && e.code.length === 5 ? e.code : undefined, e.message, err);
      }
    },
    close: () => pool.end(),
    warm(connections: number) {
      const missing = Math.min(connections, pool.options.max ?? 10) - pool.totalCount;
      for (let i = 0; i < missing; i += 1) {
        pool.connect().then(
          (client) => client.release(),
          () => undefined, // a failure shows on the first real call
        );
      }
    },
  };
}
