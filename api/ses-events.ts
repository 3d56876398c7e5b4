import { waitUntil } from '@vercel/functions';
import { getConfig } from '../lib/config';
import { getDb } from '../lib/db';
import { handleSnsRequest, type SnsDeps } from '../lib/feedback';
import { handle, json, methodNotAllowed, readText } from '../lib/http';

/**
 * POST /api/ses-events: Amazon SNS (HTTPS, raw message delivery off) with SES feedback.
 * SNS posts JSON as `text/plain; charset=UTF-8`, so the body is read as text whatever the
 * content type. Statuses: see lib/feedback/index.ts.
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

/** The Notion counts write-back, once the lead's lib/notion provides it (see lib/feedback: coalesced per mailout). */
let notionCountsRefresher: ((mailoutId: string) => Promise<void>) | undefined;
export function setNotionCountsRefresher(fn: ((mailoutId: string) => Promise<void>) | undefined): void {
  notionCountsRefresher = fn;
}

export const POST = createSesEventsHandler(() => {
  const config = getConfig();
  return {
    db: getDb(config),
    config,
    refreshNotionCounts: notionCountsRefresher,
    waitUntil: (p) => waitUntil(p),
  };
});

export const GET = handle('ses-events', async () => methodNotAllowed(['POST']));
