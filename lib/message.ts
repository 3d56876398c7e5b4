import { randomBytes } from 'node:crypto';
import type { SendEmailCommandInput } from '@aws-sdk/client-sesv2';
import { checkEmail } from './email';
import { AppError } from './errors';

/**
 * One recipient's message: the SESv2 `SendEmail` input (simple content with custom headers,
 * which SES v1 `SendEmail` cannot carry), and the same message as an RFC 5322 `.eml` file
 * for previews.
 */

export interface MessageInput {
  from: { email: string; name?: string };
  replyTo?: string | string[];
  to: string;
  subject: string;
  html: string;
  text: string;
  /** The https one-click unsubscribe URL (RFC 8058); also `List-Unsubscribe`. */
  unsubscribeUrl: string;
  mailoutId: string;
  /** The recipient's delivery row (a live send): tagged, so that SES's events name it. */
  subscriberId?: string;
  configurationSet?: string;
  test?: boolean;
}

/** The address in its canonical form (lib/email.ts), or the error to throw. */
function canonicalAddress(raw: string, refuse: (shown: string) => AppError): string {
  const c = checkEmail(raw);
  if (!c.ok) throw refuse(raw.trim().slice(0, 100));
  return c.email;
}

const notAnAddress = (shown: string) => new AppError('bad_request', `Not an email address: ${shown}`);

/** A message's recipient in its canonical form, or the error the message builder throws. */
export function recipientAddress(raw: string): string {
  return canonicalAddress(raw, notAnAddress);
}

/** SES tag values: ASCII letters, digits, `_` and `-`, at most 256 characters. */
export function sesTagValue(value: string): string {
  const v = value.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 256);
  return v || '_';
}

/** RFC 2047 encoded-words (base64, UTF-8), each at most 75 characters, never splitting a character. */
export function encodeWord(text: string, firstLinePrefix = 0): string {
  if (/^[\x20-\x7e]*$/.test(text)) return text;
  const words: string[] = [];
  let chunk = '';
  for (const ch of text) {
    const next = chunk + ch;
    // 12 = "=?UTF-8?B?" + "?=" ; base64 of n bytes is 4*ceil(n/3). Folded lines start with a space.
    const budget = words.length === 0 ? Math.min(75, 76 - firstLinePrefix) : 75;
    if (12 + 4 * Math.ceil(Buffer.byteLength(next, 'utf8') / 3) > budget) {
      words.push(chunk);
      chunk = ch;
    } else {
      chunk = next;
    }
  }
  if (chunk) words.push(chunk);
  return words.map((w) => `=?UTF-8?B?${Buffer.from(w, 'utf8').toString('base64')}?=`).join('\r\n ');
}

function oneLine(s: string): string {
  return s.replace(/[\r\n\t]+/g, ' ').replace(/\s+/g, ' ').trim();
}

/** `Display Name <address>`, the name quoted or encoded as needed. */
export function formatAddress(email: string, name?: string): string {
  const address = canonicalAddress(email, notAnAddress);
  const display = name ? oneLine(name) : '';
  if (!display) return address;
  if (/^[\x20-\x7e]*$/.test(display)) {
    const quoted = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~ ]+$/.test(display) ? display : `"${display.replace(/(["\\])/g, '\\$1')}"`;
    return `${quoted} <${address}>`;
  }
  return `${encodeWord(display).replace(/\r\n /g, ' ')} <${address}>`;
}

/** Throws unless `url` is one a message may carry in its List-Unsubscribe header. */
export function checkUnsubscribeUrl(url: string): void {
  if (!/^https:\/\/[^\s<>]+$/.test(url) && !/^http:\/\/(localhost|127\.0\.0\.1)(:\d+)?\/[^\s<>]*$/.test(url)) {
    throw new AppError('internal', 'The unsubscribe URL must be an absolute https URL (RFC 8058).');
  }
}

/** The list headers every message carries. */
export function listHeaders(unsubscribeUrl: string): Array<{ Name: string; Value: string }> {
  checkUnsubscribeUrl(unsubscribeUrl);
  return [
    { Name: 'List-Unsubscribe', Value: `<${unsubscribeUrl}>` },
    { Name: 'List-Unsubscribe-Post', Value: 'List-Unsubscribe=One-Click' },
    { Name: 'Precedence', Value: 'bulk' },
  ];
}

/**
 * Every header of ours a message carries, the same in the SES request and in the preview's
 * `.eml`: the list headers and the mailout it belongs to (for tracing a forwarded complaint).
 */
export function messageHeaders(input: Pick<MessageInput, 'unsubscribeUrl' | 'mailoutId'>): Array<{ Name: string; Value: string }> {
  return [...listHeaders(input.unsubscribeUrl), { Name: 'X-Mailout-Id', Value: sesTagValue(input.mailoutId) }];
}

function replyToList(replyTo: MessageInput['replyTo']): string[] {
  const list = replyTo === undefined ? [] : Array.isArray(replyTo) ? replyTo : [replyTo];
  return list.map((r) => r.trim()).filter(Boolean);
}

/** The SESv2 `SendEmail` input for one recipient. */
export function buildSendEmailInput(input: MessageInput): SendEmailCommandInput {
  const to = recipientAddress(input.to);
  const replyTo = replyToList(input.replyTo).map((r) => canonicalAddress(r, (shown) => new AppError('config', `SES_REPLY_TO is not an email address: ${shown}`)));
  return {
    FromEmailAddress: formatAddress(input.from.email, input.from.name),
    Destination: { ToAddresses: [to] },
    ...(replyTo.length ? { ReplyToAddresses: replyTo } : {}),
    Content: {
      Simple: {
        Subject: { Data: oneLine(input.subject), Charset: 'UTF-8' },
        Body: {
          Html: { Data: input.html, Charset: 'UTF-8' },
          Text: { Data: input.text, Charset: 'UTF-8' },
        },
        Headers: messageHeaders(input),
      },
    },
    EmailTags: [
      { Name: 'mailout_id', Value: sesTagValue(input.mailoutId) },
      { Name: 'mode', Value: input.test ? 'test' : 'live' },
      ...(input.subscriberId ? [{ Name: 'subscriber_id', Value: sesTagValue(input.subscriberId) }] : []),
    ],
    ...(input.configurationSet ? { ConfigurationSetName: input.configurationSet } : {}),
  };
}

function base64Lines(text: string): string {
  return (Buffer.from(text, 'utf8').toString('base64').match(/.{1,76}/g) ?? []).join('\r\n');
}

/**
 * The message as an `.eml` file (multipart/alternative: text, then HTML; UTF-8, base64),
 * with the same headers SES would send. For previews: open it in a mail client.
 */
export function buildEml(input: MessageInput & { date?: Date; messageId?: string }): string {
  const boundary = `=_mailout_${randomBytes(12).toString('hex')}`;
  const domain = input.from.email.split('@')[1] ?? 'localhost';
  const replyTo = replyToList(input.replyTo);
  const headers = [
    `From: ${formatAddress(input.from.email, input.from.name)}`,
    `To: ${formatAddress(input.to)}`,
    ...(replyTo.length ? [`Reply-To: ${replyTo.join(', ')}`] : []),
    `Subject: ${encodeWord(oneLine(input.subject), 'Subject: '.length)}`,
    `Date: ${(input.date ?? new Date()).toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: ${input.messageId ?? `<${randomBytes(16).toString('hex')}@${domain}>`}`,
    'MIME-Version: 1.0',
    ...messageHeaders(input).map((h) => `${h.Name}: ${h.Value}`),
    `Content-Type: multipart/alternative; boundary="${boundary}"`,
  ];
  const part = (type: string, body: string) =>
    [`--${boundary}`, `Content-Type: ${type}; charset=UTF-8`, 'Content-Transfer-Encoding: base64', '', base64Lines(body)].join('\r\n');
  return [headers.join('\r\n'), '', part('text/plain', input.text), part('text/html', input.html), `--${boundary}--`, ''].join('\r\n');
}
