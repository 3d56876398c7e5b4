import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Pool } from 'pg';
import { startEmbeddedPostgres } from '../db/embedded';
import { migrate } from '../db/migrate';

/** A throw-away embedded Postgres (durable: fsync on, as in production) with every migration applied. */
export async function withBenchDatabase<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailout-bench-pg-'));
  const server = await startEmbeddedPostgres({ dataDir, persistent: false, durable: true });
  try {
    await migrate(server.url);
    return await fn(server.url);
  } finally {
    await server.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/** `n` active subscribers (reader1@example.com, …), vacuumed and analyzed as a list that has been sitting. */
export async function seedBenchSubscribers(url: string, n: number): Promise<void> {
  const pool = new Pool({ connectionString: url });
  try {
    await pool.query(
      `insert into subscribers (email, name, source)
       select 'reader' || g || '@example.com', 'Reader ' || g, 'bench' from generate_series(1, $1) g`,
      [n],
    );
    await pool.query('vacuum analyze subscribers');
  } finally {
    await pool.end();
  }
}
