import { getApp } from '../lib/app';
import { handle, json } from '../lib/http';

/** GET /api/health: 200 once the configuration is valid and the database answers. */
export const GET = handle('health', async () => {
  const app = getApp('health');
  const { config } = app;
  const started = Date.now();
  await app.ledger.health();
  return json(200, { ok: true, database: config.db.kind, latency_ms: Date.now() - started });
});
