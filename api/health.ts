import { getConfig } from '../lib/config';
import { getDb } from '../lib/db';
import { handle, json } from '../lib/http';

/** GET /api/health: 200 once the configuration is valid and the database answers. */
export const GET = handle('health', async () => {
  const config = getConfig();
  const started = Date.now();
  await getDb(config).rpc('health_check');
  return json(200, { ok: true, database: config.db.kind, latency_ms: Date.now() - started });
});
