import type { Config } from '../config';
import { escapeHtml, noticePage, pageHeaders } from '../html';
import type { Ledger } from '../db/ledger';
import { log } from '../log';
import { verifyUnsubscribeToken, type UnsubscribeTarget } from './token';

/**
 * /api/unsubscribe?token=…
 *   GET   a small page (Russian and English) naming the list, with one button. Changes
 *         nothing: mail scanners fetch every link in a message.
 *   POST  the change. The page's button (`action=unsubscribe`) and RFC 8058 one-click
 *         (`List-Unsubscribe=One-Click`, urlencoded or multipart) unsubscribe; the second
 *         button (`action=resubscribe`) moves `unsubscribed` back to `active` (a bounced
 *         address stays bounced, and so does one that complained, and the page says why). 200 with a page, no redirect, no cookies. Idempotent.
 *   A bad or tampered token gets a 400 page; a test-send recipient's token gets the same
 *   pages without any change to the subscriber list.
 */

export type UnsubscribeAction = 'unsubscribe' | 'resubscribe';

export interface UnsubscribeDeps {
  ledger: Ledger;
  config: Pick<Config, 'unsubscribeSecret' | 'listName'>;
}

export type PageState =
  | 'confirm'
  | 'unsubscribed'
  | 'resubscribed'
  | 'cannot_resubscribe'
  | 'complained'
  | 'not_found'
  | 'invalid'
  | 'error';

export interface PageResult {
  status: number;
  state: PageState;
  html: string;
}

/** GET: the confirmation page. Nothing is read or written. */
export function unsubscribePage(token: string | null, deps: Pick<UnsubscribeDeps, 'config'>): PageResult {
  const target = verifyUnsubscribeToken(deps.config.unsubscribeSecret, token);
  if (!target) return page(400, 'invalid', deps.config, null);
  return page(200, 'confirm', deps.config, token);
}

/** POST: unsubscribe or resubscribe the token's subscriber. A database fault is a 503 page. */
export async function applyUnsubscribe(
  token: string | null,
  action: UnsubscribeAction,
  deps: UnsubscribeDeps,
): Promise<PageResult> {
  const target = verifyUnsubscribeToken(deps.config.unsubscribeSecret, token);
  if (!target) return page(400, 'invalid', deps.config, null);
  if (target.kind === 'test') {
    log.info('unsubscribe.test_recipient', { action, mailoutId: target.mailoutId });
    return page(200, action === 'unsubscribe' ? 'unsubscribed' : 'resubscribed', deps.config, token);
  }
  try {
    return await applyToSubscriber(target, token!, action, deps);
  } catch (err) {
    log.error('unsubscribe.failed', { action, subscriberId: target.subscriberId, error: err });
    return page(503, 'error', deps.config, token);
  }
}

async function applyToSubscriber(
  target: Extract<UnsubscribeTarget, { kind: 'subscriber' }>,
  token: string,
  action: UnsubscribeAction,
  deps: UnsubscribeDeps,
): Promise<PageResult> {
  if (action === 'unsubscribe') {
    const r = await deps.ledger.subscribers.unsubscribe(target.subscriberId);
    log.info('unsubscribe.done', { subscriberId: target.subscriberId, found: r !== null, changed: r?.changed ?? false });
    // Already unsubscribed, bounced, or no longer on the list: the same page.
    return page(200, 'unsubscribed', deps.config, token);
  }
  const r = await deps.ledger.subscribers.resubscribe(target.subscriberId);
  log.info('unsubscribe.resubscribe', { subscriberId: target.subscriberId, found: r !== null, changed: r?.changed ?? false });
  if (!r) return page(404, 'not_found', deps.config, null);
  if (r.status === 'active') return page(200, 'resubscribed', deps.config, token);
  return page(200, r.status === 'complained' ? 'complained' : 'cannot_resubscribe', deps.config, null);
}

/**
 * What a POST asks for. `action=resubscribe` (the page's second button) resubscribes; every
 * other POST — the first button, RFC 8058 `List-Unsubscribe=One-Click` in either encoding,
 * or a body a mail client did not encode as a form — unsubscribes.
 */
export async function readUnsubscribeAction(request: Request): Promise<{ action: UnsubscribeAction; token: string | null }> {
  const type = (request.headers.get('content-type') ?? '').toLowerCase();
  if (type.startsWith('application/x-www-form-urlencoded') || type.startsWith('multipart/form-data')) {
    try {
      const form = await request.formData();
      const action = form.get('action') === 'resubscribe' ? 'resubscribe' : 'unsubscribe';
      const token = form.get('token');
      return { action, token: typeof token === 'string' ? token : null };
    } catch {
      return { action: 'unsubscribe', token: null };
    }
  }
  return { action: 'unsubscribe', token: null };
}

// ---------------------------------------------------------------------------------------
// The page
// ---------------------------------------------------------------------------------------

/** Headers of every unsubscribe page: the pages' security headers, never cached. */
export const PAGE_HEADERS: Record<string, string> = pageHeaders('no-store');

interface Copy {
  title: string;
  ru: string;
  en: string;
  button?: { action: UnsubscribeAction; ru: string; en: string; secondary?: boolean };
}

function copy(state: PageState, list: string): Copy {
  const l = escapeHtml(list);
  switch (state) {
    case 'confirm':
      return {
        title: 'Отписка · Unsubscribe',
        ru: `Отписаться от рассылки «${l}»? Письма больше приходить не будут.`,
        en: `Unsubscribe from ${l}? You will receive no more emails from it.`,
        button: { action: 'unsubscribe', ru: 'Отписаться', en: 'Unsubscribe' },
      };
    case 'unsubscribed':
      return {
        title: 'Вы отписались · Unsubscribed',
        ru: `Вы отписались от рассылки «${l}». Передумали? Можно подписаться снова.`,
        en: `You have been unsubscribed from ${l}. Changed your mind? You can subscribe again.`,
        button: { action: 'resubscribe', ru: 'Подписаться снова', en: 'Subscribe again', secondary: true },
      };
    case 'resubscribed':
      return {
        title: 'Вы снова подписаны · Subscribed again',
        ru: `Вы снова подписаны на рассылку «${l}».`,
        en: `You are subscribed to ${l} again.`,
        button: { action: 'unsubscribe', ru: 'Отписаться', en: 'Unsubscribe', secondary: true },
      };
    case 'cannot_resubscribe':
      return {
        title: 'Подписка невозможна · Cannot subscribe',
        ru: 'Письма на этот адрес не доставляются, поэтому подписать его снова нельзя.',
        en: 'Emails to this address bounce, so it cannot be subscribed again.',
      };
    case 'complained':
      return {
        title: 'Подписка невозможна · Cannot subscribe',
        ru: `С этого адреса письмо рассылки «${l}» отметили как спам, поэтому писем на него больше не будет и подписать его снова нельзя.`,
        en: `An email from ${l} was marked as spam at this address, so no more emails go to it and it cannot be subscribed again.`,
      };
    case 'not_found':
      return {
        title: 'Адрес не найден · Address not found',
        ru: 'Этого адреса больше нет в списке рассылки.',
        en: 'This address is no longer on the mailing list.',
      };
    case 'invalid':
      return {
        title: 'Неверная ссылка · Invalid link',
        ru: 'Ссылка повреждена или неполна. Откройте её из письма ещё раз, целиком.',
        en: 'This link is damaged or incomplete. Open it again from the email, in full.',
      };
    case 'error':
      return {
        title: 'Временная ошибка · Temporary error',
        ru: 'Не получилось сохранить изменение. Попробуйте ещё раз через минуту.',
        en: 'The change could not be saved. Please try again in a minute.',
        button: { action: 'unsubscribe', ru: 'Повторить', en: 'Try again' },
      };
  }
}

function page(status: number, state: PageState, config: Pick<Config, 'listName'>, token: string | null): PageResult {
  const c = copy(state, config.listName ?? 'Newsletter');
  const form =
    c.button && token
      ? `<form method="post" action="?token=${escapeHtml(encodeURIComponent(token))}">
      <input type="hidden" name="action" value="${c.button.action}">
      <button type="submit" class="${c.button.secondary ? 'secondary' : ''}">${c.button.ru} · ${c.button.en}</button>
    </form>`
      : '';
  const html = noticePage({ title: c.title, ru: c.ru, en: c.en, state, after: form });
  return { status, state, html };
}
