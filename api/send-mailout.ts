import { waitUntil } from '@vercel/functions';
import { getApp } from '../lib/app';
import { handle, json, readJson } from '../lib/http';
import { log } from '../lib/log';
import { answerSendRequest, authenticateSendRequest, parseSendRequest } from '../lib/send';

/** POST /api/send-mailout: a Notion automation webhook, the spec's body, or a continuation. */
export const POST = handle('send-mailout', async (request) => {
  const startedAt = Date.now();
  const app = getApp('send-mailout');
  const cfg = app.config;
  const body = await readJson(request).catch((err: unknown) => {
    // Authenticate (from the headers) before explaining what is wrong with the body.
    authenticateSendRequest(request, undefined, cfg);
    throw err;
  });
  const req = parseSendRequest(body, request, cfg);
  const result = await answerSendRequest(app.sendDeps({ startedAt }), req);
  if (result.run) {
    waitUntil(
      result.run().catch((err: unknown) => {
        log.error('send.failed', { mailout_id: req.mailoutId, error: err });
      }),
    );
  }
  if (result.after) waitUntil(result.after);
  return json(result.status, result.body);
});
