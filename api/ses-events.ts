import { waitUntil } from '@vercel/functions';
import { getApp } from '../lib/app';
import { handleSnsRequest, type SnsDeps } from '../lib/feedback';
import { handle, json, methodNotAllowed, readText } from '../lib/http';

/**
 * POST /api/ses-events: Amazon SNS (HTTPS, raw message delivery off) with SES feedback.
 * SNS posts JSON as `text/plain; charset=UTF-8`, so the body is read as text whatever the
 * content type. Statuses: see lib/feedback/sns-handler.ts.
 *
 * `createSesEventsHandler` lets a test or the local stack supply its own dependencies
 * (certificate fetcher, Notion refresher); `POST` is the deployed wiring.
 */
export function createSesEventsHandler(makeDeps: () => SnsDeps | Promise<SnsDeps>): (request: Request) => Promise<Response> {
  return handle('ses-events', async (request) => {
    if (request.method !== 'POST') return methodNotAllowed(['POST']);
    const body = await readText(request, 256 * 1024);
    const result = await handleSnsRequest(body, await makeDeps());
    return json(result.status, result.body);
  });
}

export const POST = createSesEventsHandler(() => {
  const app = getApp('feedback');
  return {
    db: app.db,
    config: app.config,
    // The mailout's counts on its Notion page (coalesced per mailout in lib/feedback).
    refreshNotionCounts: app.countsRefresher(),
    waitUntil: (p) => waitUntil(p),
  };
});

export const GET = handle('ses-events', async () => methodNotAllowed(['POST']));
