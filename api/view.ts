import { getApp } from '../lib/app';
import { handle } from '../lib/http';
import { viewLetter } from '../lib/view';

/** GET /api/view?m=<mailout>&sig=<mac>: the letter's web version (signed link in every letter). See lib/view.ts. */
export const GET = handle('view', async (request) => {
  const app = getApp('view');
  const url = new URL(request.url);
  const r = await viewLetter(
    { ledger: app.ledger, config: app.config },
    { mailoutId: url.searchParams.get('m'), sig: url.searchParams.get('sig'), ifNoneMatch: request.headers.get('if-none-match') },
  );
  return new Response(request.method === 'HEAD' ? null : r.body, { status: r.status, headers: r.headers });
});

export const HEAD = GET;
