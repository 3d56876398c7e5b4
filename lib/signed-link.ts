import { createHmac } from 'node:crypto';
import { secretsEqual } from './http';

/**
 * The one signer of the links the executor hands out (the web version, the report, the
 * unsubscribe link): an HMAC-SHA256, base64url, of `purpose:part:part…`. The purpose binds a
 * signature to one kind of link, so one made for a view link opens nothing else even under the
 * same key. A part may not contain `:` (parts are ids, numbers and base64url), so the signed
 * text is never ambiguous. These are the texts the links were signed over before there was one
 * signer: every link already sent still opens.
 */

export type LinkPurpose = 'mailout-view:v1' | 'mailout-unsubscribe:v1' | 'report';

type Part = string | number;

function signedText(purpose: LinkPurpose, parts: Part[]): string {
  const texts = parts.map(String);
  if (texts.some((p) => p.includes(':'))) throw new Error(`sign(${purpose}): a signed part may not contain ":"`);
  return [purpose, ...texts].join(':');
}

export function sign(purpose: LinkPurpose, secret: string, ...parts: Part[]): string {
  return createHmac('sha256', secret).update(signedText(purpose, parts), 'utf8').digest('base64url');
}

/** Whether `presented` is the signature of these parts, compared in constant time. */
export function verify(purpose: LinkPurpose, secret: string, presented: string | null | undefined, ...parts: Part[]): boolean {
  return secretsEqual(presented, sign(purpose, secret, ...parts));
}

/** `${APP_BASE_URL}/api/<route>?<query>`: the address of every signed link. */
export function linkUrl(appBaseUrl: string, route: string, query: Record<string, string>): string {
  return `${appBaseUrl.replace(/\/+$/, '')}/api/${route}?${new URLSearchParams(query).toString()}`;
}
