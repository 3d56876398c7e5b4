/**
 * SES feedback as published to SNS, in both formats:
 *   - identity feedback notifications: `notificationType` (Bounce, Complaint, Delivery);
 *   - configuration-set event publishing: `eventType` (Bounce, Complaint, Delivery, Send,
 *     Reject, Open, Click, Rendering Failure, DeliveryDelay, Subscription).
 * Both carry `mail` (with `messageId`, and for configuration sets `tags`) and one object
 * named after the event. SES may add fields; unknown ones are ignored, unknown event types
 * are kept as they are (stored, no subscriber change).
 *
 * The rule: a Permanent bounce, or a Transient one with status 5.4.4, is hard
 * (`bounced` now); other bounces are soft (counted; `bounced` at SOFT_BOUNCE_LIMIT); a
 * complaint unsubscribes. Only the listed recipients (bouncedRecipients,
 * complainedRecipients) are touched, never the rest of `mail.destination`.
 */

/** The SES message tag the send engine sets to the mailout id (configuration-set events carry it). */
export const SES_MAILOUT_TAG = 'mailout_id';
/** The tag naming the recipient's delivery row (its subscriber id): how an event finds an `unknown` row. */
export const SES_SUBSCRIBER_TAG = 'subscriber_id';

const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface SesEvent {
  format: 'notification' | 'event';
  /** Bounce, Complaint, Delivery, Send, ... as SES names it; `Unknown` when absent. */
  eventType: string;
  sesMessageId: string | null;
  /** Recipients the event is about (listed in its own object; else mail.destination). */
  recipients: string[];
  bounceType: string | null;
  bounceSubtype: string | null;
  bounceClass: 'hard' | 'soft' | null;
  feedbackId: string | null;
  hardBounced: string[];
  softBounced: string[];
  complained: string[];
  delivered: string[];
  /** The mailout id from the message's tags, when present. */
  mailoutTag: string | null;
  /** The subscriber id from the message's tags, when present and a canonical UUID (else null). */
  subscriberTag: string | null;
  /** The parsed message, stored as the event's payload. */
  payload: Record<string, unknown>;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);

/** `Jane Doe <jane@example.com>` or `jane@example.com` -> `jane@example.com` (trimmed). */
export function bareAddress(value: string): string {
  const m = /<([^<>]+)>\s*$/.exec(value);
  return (m ? m[1]! : value).trim();
}

function addresses(list: unknown, field: string | null): string[] {
  if (!Array.isArray(list)) return [];
  const out: string[] = [];
  for (const item of list) {
    const v = field === null ? str(item) : isObj(item) ? str(item[field]) : null;
    if (v) {
      const a = bareAddress(v);
      if (a.includes('@') && !out.some((x) => x.toLowerCase() === a.toLowerCase())) out.push(a);
    }
  }
  return out;
}

/** Is this bounced recipient's status the 5.4.4 (unable to route) that makes a transient bounce hard? */
function isHardTransientStatus(status: unknown): boolean {
  return typeof status === 'string' && /^5\.4\.4(\D|$)/.test(status.trim());
}

/** A tag's value: SES publishes each tag as a list of values (the first is ours). */
function tagValue(tags: Obj, name: string): string | null {
  const v = tags[name];
  return Array.isArray(v) ? str(v[0]) : str(v);
}

/** Parse the SNS `Message` of a notification. Not JSON or not an object: an Unknown event. */
export function parseSesMessage(messageText: string): SesEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(messageText);
  } catch {
    parsed = undefined;
  }
  const empty: SesEvent = {
    format: 'event',
    eventType: 'Unknown',
    sesMessageId: null,
    recipients: [],
    bounceType: null,
    bounceSubtype: null,
    bounceClass: null,
    feedbackId: null,
    hardBounced: [],
    softBounced: [],
    complained: [],
    delivered: [],
    mailoutTag: null,
    subscriberTag: null,
    payload: isObj(parsed) ? parsed : { raw: messageText.slice(0, 10_000) },
  };
  if (!isObj(parsed)) return empty;

  const format: SesEvent['format'] = str(parsed.eventType) ? 'event' : 'notification';
  const eventType = str(parsed.eventType) ?? str(parsed.notificationType) ?? 'Unknown';
  const mail = isObj(parsed.mail) ? parsed.mail : {};
  const tags = isObj(mail.tags) ? mail.tags : {};
  const mailoutTag = tagValue(tags, SES_MAILOUT_TAG);
  const subscriber = tagValue(tags, SES_SUBSCRIBER_TAG);
  const ev: SesEvent = {
    ...empty,
    format,
    eventType,
    sesMessageId: str(mail.messageId),
    recipients: addresses(mail.destination, null),
    mailoutTag,
    subscriberTag: subscriber && CANONICAL_UUID.test(subscriber) ? subscriber : null,
  };

  switch (eventType) {
    case 'Bounce': {
      const b = isObj(parsed.bounce) ? parsed.bounce : {};
      const listed = Array.isArray(b.bouncedRecipients) ? b.bouncedRecipients : [];
      const recipients = addresses(listed, 'emailAddress');
      ev.recipients = recipients;
      ev.bounceType = str(b.bounceType);
      ev.bounceSubtype = str(b.bounceSubType);
      ev.feedbackId = str(b.feedbackId);
      if (ev.bounceType === 'Permanent') {
        ev.hardBounced = recipients;
      } else {
        for (const r of listed) {
          if (!isObj(r) || !str(r.emailAddress)) continue;
          const a = bareAddress(String(r.emailAddress));
          if (!a.includes('@')) continue;
          (isHardTransientStatus(r.status) ? ev.hardBounced : ev.softBounced).push(a);
        }
      }
      ev.bounceClass = ev.hardBounced.length > 0 ? 'hard' : ev.softBounced.length > 0 ? 'soft' : null;
      break;
    }
    case 'Complaint': {
      const c = isObj(parsed.complaint) ? parsed.complaint : {};
      ev.recipients = addresses(c.complainedRecipients, 'emailAddress');
      ev.feedbackId = str(c.feedbackId);
      ev.complained = ev.recipients;
      break;
    }
    case 'Delivery': {
      const d = isObj(parsed.delivery) ? parsed.delivery : {};
      const delivered = addresses(d.recipients, null);
      if (delivered.length > 0) ev.recipients = delivered;
      ev.delivered = delivered;
      break;
    }
    case 'DeliveryDelay': {
      const d = isObj(parsed.deliveryDelay) ? parsed.deliveryDelay : {};
      const delayed = addresses(d.delayedRecipients, 'emailAddress');
      if (delayed.length > 0) ev.recipients = delayed;
      break;
    }
    default:
      break;
  }
  return ev;
}
