import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres } from '../../lib/db/embedded';
import { migrate } from '../../lib/db/migrate';

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
