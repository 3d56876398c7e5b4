import type { Config } from '../config';
import { linkUrl, sign, verify } from '../signed-link';

/**
 * Unsubscribe tokens: `<payload>.<mac>`, both base64url, the MAC the link signer's
 * (lib/signed-link.ts: keyed with UNSUBSCRIBE_SECRET, bound to this purpose) of the payload text.
 *   subscriber  payload = 0x01 || the subscriber id's 16 bytes: no email in the URL
 *   test send   payload = 0x02 || UTF-8 JSON [email, mailoutId]: a test recipient has no
 *               subscriber row; the link must still work and must not touch the list
 * The MAC is checked in constant time before the payload is read.
 */

export type UnsubscribeTarget =
  | { kind: 'subscriber'; subscriberId: string }
  | { kind: 'test'; email: string; mailoutId: string };

const KIND_SUBSCRIBER = 0x01;
const KIND_TEST = 0x02;
const B64URL = /^[A-Za-z0-9_-]+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function seal(secret: string, bytes: Buffer): string {
  const payload = bytes.toString('base64url');
  return `${payload}.${sign('mailout-unsubscribe:v1', secret, payload)}`;
}

function uuidBytes(id: string): Buffer {
  if (!UUID.test(id)) throw new Error('unsubscribeToken: the subscriber id must be a UUID');
  return Buffer.from(id.replace(/-/g, ''), 'hex');
}

function uuidString(bytes: Buffer): string {
  const h = bytes.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The token of a subscriber's unsubscribe link (no email in it). */
export function unsubscribeToken(secret: string, subscriberId: string): string {
  return seal(secret, Buffer.concat([Buffer.from([KIND_SUBSCRIBER]), uuidBytes(subscriberId)]));
}

/** The token of a test-send recipient's unsubscribe link. */
export function testUnsubscribeToken(secret: string, email: string, mailoutId: string): string {
  return seal(secret, Buffer.concat([Buffer.from([KIND_TEST]), Buffer.from(JSON.stringify([email, mailoutId]), 'utf8')]));
}

/** What a token stands for, or null when it is malformed or its MAC does not match. */
export function verifyUnsubscribeToken(secret: string, token: string | null | undefined): UnsubscribeTarget | null {
  if (typeof token !== 'string' || token.length > 2048) return null;
  const dot = token.indexOf('.');
  if (dot <= 0 || dot !== token.lastIndexOf('.')) return null;
  const payload = token.slice(0, dot);
  const presentedText = token.slice(dot + 1);
  if (!B64URL.test(payload) || !B64URL.test(presentedText)) return null;
  if (!verify('mailout-unsubscribe:v1', secret, presentedText, payload)) return null;

  const bytes = Buffer.from(payload, 'base64url');
  if (bytes.length === 17 && bytes[0] === KIND_SUBSCRIBER) {
    return { kind: 'subscriber', subscriberId: uuidString(bytes.subarray(1)) };
  }
  if (bytes.length > 1 && bytes[0] === KIND_TEST) {
    try {
      const v = JSON.parse(bytes.subarray(1).toString('utf8')) as unknown;
      if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string') {
        return { kind: 'test', email: v[0], mailoutId: v[1] };
      }
    } catch {
      return null;
    }
  }
  return null;
}

type UrlConfig = Pick<Config, 'appBaseUrl' | 'unsubscribeSecret'>;

/** `${APP_BASE_URL}/api/unsubscribe?token=…`: the footer link and the List-Unsubscribe header. */
export function unsubscribeUrl(config: UrlConfig, subscriberId: string): string {
  return linkUrl(config.appBaseUrl, 'unsubscribe', { token: unsubscribeToken(config.unsubscribeSecret, subscriberId) });
}

/** The same for a test-send recipient. */
export function testUnsubscribeUrl(config: UrlConfig, email: string, mailoutId: string): string {
  return linkUrl(config.appBaseUrl, 'unsubscribe', { token: testUnsubscribeToken(config.unsubscribeSecret, email, mailoutId) });
}
