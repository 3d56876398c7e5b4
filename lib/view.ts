import { createHash } from 'node:crypto';
import type { Config } from './config';
import type { Ledger } from './db/ledger';
import { noticePage, pageHeaders } from './html';
import { parseMailoutId } from './mailout-id';
import { webVersion } from './render';
import { linkUrl, sign, verify } from './signed-link';

/**
 * The web version of a letter ("view in the browser"): `/api/view?m=<mailout>&sig=<mac>`,
 * a link in the footer and the text part of every letter. It serves the letter the mailout
 * stored at its claim, with no reader in it (no name, no unsubscribe link), so the same
 * page may be cached and shared. The MAC is the link signer's (lib/signed-link.ts) over the
 * mailout id, keyed with UNSUBSCRIBE_SECRET (the key of both links in a letter: unsubscribe and
 * this one) and bound to this purpose; it is compared in constant time before the database is
 * asked anything.
 */

type LinkConfig = Pick<Config, 'appBaseUrl' | 'unsubscribeSecret'>;

export function viewSignature(secret: string, mailoutId: string): string {
  return sign('mailout-view:v1', secret, mailoutId);
}

export function viewUrl(config: LinkConfig, reference: string): string {
  const mailoutId = parseMailoutId(reference);
  return linkUrl(config.appBaseUrl, 'view', { m: mailoutId, sig: viewSignature(config.unsubscribeSecret, mailoutId) });
}

export interface ViewResponse {
  status: number;
  headers: Record<string, string>;
  body: string | null;
}

// The stored letter never changes, so a browser keeps the page for an hour and a CDN for a
// day; a changed page (a new deployment's frame) is caught by the ETag.
const CACHE = 'public, max-age=3600, s-maxage=86400, stale-while-revalidate=86400';

function notice(status: number, state: string, title: string, ru: string, en: string): ViewResponse {
  return { status, headers: pageHeaders('no-store'), body: noticePage({ title, ru, en, state }) };
}

function etagOf(body: string): string {
  return `"${createHash('sha256').update(body, 'utf8').digest('base64url').slice(0, 32)}"`;
}

function matches(ifNoneMatch: string | null, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch.split(',').some((t) => {
    const tag = t.trim().replace(/^W\//, '');
    return tag === etag || tag === '*';
  });
}

function canonicalOrEmpty(reference: string | null): string {
  try {
    return reference && reference.length <= 200 ? parseMailoutId(reference) : '';
  } catch {
    return '';
  }
}

export interface ViewRequest {
  mailoutId: string | null;
  sig: string | null;
  ifNoneMatch: string | null;
}

/** The web version of a mailout's letter, or a page that says why not. */
export async function viewLetter(deps: { ledger: Ledger; config: Pick<Config, 'unsubscribeSecret'> }, req: ViewRequest): Promise<ViewResponse> {
  // Signed over the canonical id (lib/mailout-id): any spelling of the page is the same letter.
  const mailoutId = canonicalOrEmpty(req.mailoutId);
  if (!mailoutId || !verify('mailout-view:v1', deps.config.unsubscribeSecret, req.sig, mailoutId)) {
    return notice(
      403,
      'invalid',
      'Неверная ссылка · Invalid link',
      'Ссылка на письмо повреждена или неполна. Откройте её из письма ещё раз, целиком.',
      'This link to the letter is damaged or incomplete. Open it again from the email, in full.',
    );
  }
  const row = await deps.ledger.letter(mailoutId);
  if (!row?.content?.templates) {
    return notice(
      404,
      'not_sent',
      'Письмо ещё не отправлено · Not sent yet',
      'Веб-версия письма появится, когда рассылка начнётся.',
      'The web version of this letter appears once the mailout is sent.',
    );
  }
  // No favicon request to a route that has none.
  const body = webVersion(row.content).replace('<head>', '<head>\n<link rel="icon" href="data:,">');
  const etag = etagOf(body);
  const headers = { ...pageHeaders(CACHE), etag };
  if (matches(req.ifNoneMatch, etag)) return { status: 304, headers, body: null };
  return { status: 200, headers, body };
}
