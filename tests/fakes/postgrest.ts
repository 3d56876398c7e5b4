/**
 * A fake of Supabase's PostgREST RPC endpoint over real HTTP, backed by a real Postgres.
 *
 *   POST /rest/v1/rpc/<fn>   body: JSON object of named arguments
 *
 * It checks the `apikey` and `Authorization: Bearer` headers like Supabase's gateway,
 * runs `select * from public.<fn>(name => value, ...)` as `service_role` (so grants apply),
 * answers the rows as a JSON array, and maps Postgres errors to PostgREST's error body
 * `{code, message, details, hint}` and HTTP statuses (42501 → 403, 42883 → 404,
 * everything else raised → 400). Every request is recorded for assertions.
 *
 * Each call runs under `statement_timeout`, as Supabase's service_role does (8 s, inherited
 * from the `authenticator` role: https://supabase.com/docs/guides/database/postgres/timeouts);
 * a test may lower it to stand in for slower CPUs.
 */
import http from 'node:http';
import { Pool } from 'pg';

export interface RecordedRpc {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: unknown;
}

export interface FakePostgrest {
  url: string;
  requests: RecordedRpc[];
  close(): Promise<void>;
}

function statusFor(code: string | undefined): number {
  if (code === '42501') return 403;
  if (code === '42883') return 404;
  if (code && code.startsWith('08')) return 503;
  return 400;
}

function toParam(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value) && value.every((v) => v === null || typeof v !== 'object')) return value;
  return JSON.stringify(value);
}

export interface FakePostgrestOptions {
  /** The statement timeout of each call (default 8000, Supabase's for service_role). */
  statementTimeoutMs?: number;
}

export async function startFakePostgrest(
  databaseUrl: string,
  serviceRoleKey: string,
  options: FakePostgrestOptions = {},
): Promise<FakePostgrest> {
  const statementTimeoutMs = options.statementTimeoutMs ?? 8000;
  const pool = new Pool({ connectionString: databaseUrl, max: 5 });
  // An idle client that loses its connection (the server stopping first) must not crash the process.
  pool.on('error', () => undefined);
  const requests: RecordedRpc[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        let body: unknown = null;
        try {
          body = raw ? JSON.parse(raw) : {};
        } catch {
          body = raw;
        }
        const path = (req.url ?? '').split('?')[0] ?? '';
        requests.push({ method: req.method ?? '', path, headers: req.headers, body });
        const send = (status: number, payload: unknown) => {
          res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
          res.end(JSON.stringify(payload));
        };
        if (req.headers.apikey !== serviceRoleKey || req.headers.authorization !== `Bearer ${serviceRoleKey}`) {
          return send(401, { message: 'Invalid API key', hint: 'Double check your Supabase `anon` or `service_role` API key.' });
        }
        const m = /^\/rest\/v1\/rpc\/([a-z_][a-z0-9_]*)$/.exec(path);
        if (req.method !== 'POST' || !m || typeof body !== 'object' || body === null || Array.isArray(body)) {
          return send(404, { code: 'PGRST202', message: 'Could not find the function', details: null, hint: null });
        }
        const args = body as Record<string, unknown>;
        const names = Object.keys(args);
        const client = await pool.connect();
        try {
          await client.query('begin');
          await client.query('set local role service_role');
          await client.query(`set local statement_timeout = ${Math.round(statementTimeoutMs)}`);
          const result = await client.query(
            `select * from public.${m[1]}(${names.map((n, i) => `${n} => $${i + 1}`).join(', ')})`,
            names.map((n) => toParam(args[n])),
          );
          await client.query('commit');
          send(200, result.rows);
        } catch (err) {
          await client.query('rollback').catch(() => undefined);
          const e = err as { code?: string; message: string; detail?: string; hint?: string };
          send(statusFor(e.code), { code: e.code ?? 'PGRST000', message: e.message, details: e.detail ?? null, hint: e.hint ?? null });
        } finally {
          client.release();
        }
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await pool.end();
    },
  };
}
