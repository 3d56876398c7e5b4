import { getApp } from '../lib/app';
import { handle, methodNotAllowed } from '../lib/http';
import { applyUnsubscribe, PAGE_HEADERS, readUnsubscribeAction, unsubscribePage, type UnsubscribeDeps } from '../lib/unsubscribe';

/**
 * /api/unsubscribe?token=…  GET: the page (changes nothing). POST: the change — the page's
 * buttons and RFC 8058 one-click (`List-Unsubscribe=One-Click`, urlencoded or multipart).
 * 200 with a page, never a redirect, no cookies. See lib/unsubscribe/page.ts.
 */
export function createUnsubscribeHandlers(makeDeps: () => UnsubscribeDeps): {
  GET: (request: Request) => Promise<Response>;
  POST: (request: Request) => Promise<Response>;
} {
  const respond = (r: { status: number; html: string }, head = false) =>
    new Response(head ? null : r.html, { status: r.status, headers: PAGE_HEADERS });

  const GET = handle('unsubscribe', async (request) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return methodNotAllowed(['GET', 'POST']);
    const token = new URL(request.url).searchParams.get('token');
    return respond(unsubscribePage(token, { config: makeDeps().config }), request.method === 'HEAD');
  });

  const POST = handle('unsubscribe', async (request) => {
    if (request.method !== 'POST') return methodNotAllowed(['GET', 'POST']);
    const { action, token: formToken } = await readUnsubscribeAction(request);
    const token = new URL(request.url).searchParams.get('token') ?? formToken;
    return respond(await applyUnsubscribe(token, action, makeDeps()));
  });

  return { GET, POST };
}

const handlers = createUnsubscribeHandlers(() => {
  const app = getApp('unsubscribe');
  return { ledger: app.ledger, config: app.config };
});

export const GET = handlers.GET;
export const HEAD = handlers.GET;
export const POST = handlers.POST;
