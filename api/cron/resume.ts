import { getApp } from '../../lib/app';
import { AppError } from '../../lib/errors';
import { bearerToken, handle, json, secretsEqual } from '../../lib/http';
import { resumeExpiredMailouts } from '../../lib/send/resume';

/** GET /api/cron/resume (Vercel cron, Authorization: Bearer $CRON_SECRET): resume mailouts whose lease expired. */
export const GET = handle('cron-resume', async (request) => {
  const app = getApp('cron');
  const cfg = app.config;
  if (!cfg.cronSecret) throw new AppError('config', 'CRON_SECRET is not set: the cron endpoint refuses every call.');
  if (!secretsEqual(bearerToken(request), cfg.cronSecret)) throw new AppError('unauthorized', 'Wrong or missing cron secret.');
  const resumed = await resumeExpiredMailouts(app);
  return json(200, { resumed });
});
