/**
 * A fake of Supabase's PostgREST RPC endpoint over real HTTP, backed by a real Postgres, no
 * kinder than the real one by default.
 *
 *   POST /rest/v1/rpc/<fn>   body: JSON object of named arguments
 *
 * It checks the `apikey` and `Authorization: Bearer` headers like Supabase's gateway and runs
 * `select * from public.<fn>(name => value, ...)` as `service_role` (so grants apply), then
 * answers as PostgREST does (docs.postgrest.org, references/errors and api/pagination; the
 * source's RangeQuery.rangeStatusHeader):
 * - at most `maxRows` rows (db-max-rows: 1,000 on Supabase), RPC included (PostgREST issue
 *   #3576), with `Content-Range: 0-999/*`; with `Prefer: count=exact` the total is given
 *   (`0-999/2500`) and a partial answer is a 206;
 * - each call under `statementTimeoutMs` (8 s: Supabase's service_role inherits the
 *   authenticator role's statement_timeout; supabase.com/docs/guides/database/postgres/timeouts),
 *   which a test may lower to stand in for slower CPUs; a timeout is 57014 → HTTP 500;
 * - errors as `{code, message, details, hint}` with PostgREST's status for the SQLSTATE; a
 *   function that does not exist (or not with these argument names) is PGRST202, 404.
 * Every request is recorded for assertions.
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

export interface FakePostgrestOptions {
  /** PostgREST's db-max-rows; Supabase's default is 1,000. */
  maxRows?: number;
  /** The statement_timeout each call runs under; Supabase's service_role gets 8 s. */
  statementTimeoutMs?: number;
}

export const SUPABASE_MAX_ROWS = 1000;
export const SUPABASE_STATEMENT_TIMEOUT_MS = 8000;

/** PostgREST's SQLSTATE → HTTP status table (docs.postgrest.org/en/latest/references/errors.html). */
const STATUS_BY_SQLSTATE: [RegExp, number][] = [
  [/^08/, 503],
  [/^09/, 500],
  [/^0L/, 403],
  [/^0P/, 403],
  [/^2350[35]$/, 409],
  [/^25006$/, 405],
  [/^25/, 500],
  [/^28/, 403],
  [/^2D/, 500],
  [/^(38|39|3B|40)/, 500],
  [/^53400$/, 500],
  [/^53/, 503],
  [/^(54|55|57|58|F0|HV)/, 500],
  [/^P0001$/, 400],
  [/^(P0|XX)/, 500],
  [/^42883$/, 404],
  [/^42P01$/, 404],
  [/^42P17$/, 500],
  // Insufficient privilege for a request with a JWT role (service_role here): 403.
  [/^42501$/, 403],
];

function statusFor(code: string | undefined): number {
  return STATUS_BY_SQLSTATE.find(([re]) => code !== undefined && re.test(code))?.[1] ?? 400;
}

/** RangeQuery.rangeStatusHeader: the status and Content-Range of an answer of `shown` rows out of `total` (null: not counted). */
function range(shown: number, total: number | null): { status: number; contentRange: string } {
  const span = shown > 0 && total !== 0 ? `0-${shown - 1}` : '*';
  return { status: total !== null && shown < total ? 206 : 200, contentRange: `${span}/${total ?? '*'}` };
}

function toParam(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value) && value.every((v) => v === null || typeof v !== 'object')) return value;
  return JSON.stringify(value);
}

export async function startFakePostgrest(databaseUrl: string, serviceRoleKey: string, options: FakePostgrestOptions = {}): Promise<FakePostgrest> {
  const maxRows = options.maxRows ?? SUPABASE_MAX_ROWS;
  const statementTimeoutMs = options.statementTimeoutMs ?? SUPABASE_STATEMENT_TIMEOUT_MS;
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
        const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
          res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
          res.end(JSON.stringify(payload));
        };
        if (req.headers.apikey !== serviceRoleKey || req.headers.authorization !== `Bearer ${serviceRoleKey}`) {
          return send(401, { message: 'Invalid API key', hint: 'Double check your Supabase `anon` or `service_role` API key.' });
        }
        const m = /^\/rest\/v1\/rpc\/([a-z_][a-z0-9_]*)$/.exec(path);
        if (req.method !== 'POST' || !m || typeof body !== 'object' || body === null || Array.isArray(body)) {
          return send(404, { code: 'PGRST202', message: 'Could not find the function', details: null, hint: null });
        }
        const counted = /count=exact/.test(String(req.headers.prefer ?? ''));
        const args = body as Record<string, unknown>;
        const names = Object.keys(args);
        const client = await pool.connect();
        try {
          await client.query('begin');
          await client.query('set local role service_role');
          await client.query(`set local statement_timeout = ${Math.max(1, Math.floor(statementTimeoutMs))}`);
          const result = await client.query(
            `select * from public.${m[1]}(${names.map((n, i) => `${n} => $${i + 1}`).join(', ')})`,
            names.map((n) => toParam(args[n])),
          );
          await client.query('commit');
          const shown = result.rows.slice(0, maxRows);
          const { status, contentRange } = range(shown.length, counted ? result.rows.length : null);
          send(status, shown, { 'content-range': contentRange });
        } catch (err) {
          await client.query('rollback').catch(() => undefined);
          const e = err as { code?: string; message: string; detail?: string; hint?: string };
          if (e.code === '42883') {
            // PostgREST looks the function up in its schema cache before calling it.
            return send(404, {
              code: 'PGRST202',
              message: `Could not find the function public.${m[1]}(${names.join(', ')}) in the schema cache`,
              details: `Searched for the function public.${m[1]} with parameters ${names.join(', ')} or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache.`,
              hint: null,
            });
          }
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
