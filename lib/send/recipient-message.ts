import { randomBytes } from 'node:crypto';
import type { SendEmailCommandInput } from '@aws-sdk/client-sesv2';
import type { Config } from '../config';
import { buildSendEmailInput, checkUnsubscribeUrl, recipientAddress, sesTagValue } from '../message';
import type { AddressedRecipient, RenderedMailout } from '../letter/types';
import { personalise } from '../render';

type Personalised = ReturnType<typeof personalise>;

function sendEmailInput(
  config: Pick<Config, 'ses'>,
  mailoutId: string,
  to: AddressedRecipient,
  message: Personalised,
  opts: { test?: boolean },
): SendEmailCommandInput {
  return buildSendEmailInput({
    from: { email: config.ses.fromEmail, ...(config.ses.fromName ? { name: config.ses.fromName } : {}) },
    ...(config.ses.replyTo ? { replyTo: config.ses.replyTo } : {}),
    to: to.email,
    subject: opts.test ? `[TEST] ${message.subject}` : message.subject,
    html: message.html,
    text: message.text,
    unsubscribeUrl: to.unsubscribeUrl,
    mailoutId,
    ...(to.subscriberId ? { subscriberId: to.subscriberId } : {}),
    ...(config.ses.configurationSet ? { configurationSet: config.ses.configurationSet } : {}),
    ...(opts.test ? { test: true } : {}),
  });
}

/**
 * One recipient's copy of the letter as a SESv2 SendEmail input: the one builder, for a live
 * send and a test send (`test`: "[TEST]" before the subject, tagged `mode=test`).
 */
export function recipientMessage(
  config: Pick<Config, 'ses'>,
  letter: RenderedMailout,
  mailoutId: string,
  to: AddressedRecipient,
  opts: { test?: boolean } = {},
): SendEmailCommandInput {
  return sendEmailInput(config, mailoutId, to, personalise(letter, { unsubscribeUrl: to.unsubscribeUrl, name: to.name }), opts);
}

/* ---------------------------------------------------------------- the same, serialized once */

/** Where a recipient's own values go in the serialized message. */
type Hole = 'to' | 'subscriberId' | 'urlRaw' | 'urlHtml' | 'nameText' | 'nameHtml' | 'nameSubject';
type Values = Record<Hole, string>;

/**
 * Stand-ins for the recipient's values, letters and digits around a random core: HTML
 * escaping, the subject's one-line form, SES tag cleaning, the address check and JSON leave
 * each as it is, so each lands in the serialized message exactly where the real value goes.
 */
function standIns(): Values {
  const core = randomBytes(12).toString('hex');
  return {
    to: `x${core}tox@hole.invalid`,
    subscriberId: `x${core}sidx`,
    urlRaw: `https://hole.invalid/x${core}urlx`,
    urlHtml: `x${core}uhx`,
    nameText: `x${core}nx`,
    nameHtml: `x${core}nhx`,
    nameSubject: `x${core}nsx`,
  };
}

/** A letter whose templates are only the recipient's values, to have `personalise` transform them. */
const PROBE: RenderedMailout = {
  subject: '',
  lang: 'en',
  html: '',
  text: '',
  warnings: [],
  usesName: true,
  templates: {
    subject: { segments: [{ kind: 'name', trimBefore: 0 }] },
    // A cleaned name has no control character: the last \n divides the two.
    html: { segments: [{ kind: 'unsubscribe' }, '\n', { kind: 'name', trimBefore: 0 }] },
    text: { segments: [{ kind: 'name', trimBefore: 0 }] },
  },
};

/** The recipient's values as `recipientMessage` writes them, checked as it checks them; `named`: the name is not empty. */
function recipientValues(to: AddressedRecipient): { values: Values; named: boolean } {
  // personalise's own checks and transformations: escaped for HTML, cut for the subject.
  const probe = personalise(PROBE, { unsubscribeUrl: to.unsubscribeUrl, name: to.name });
  const address = recipientAddress(to.email);
  checkUnsubscribeUrl(to.unsubscribeUrl);
  const cut = probe.html.lastIndexOf('\n');
  return {
    named: probe.text !== '',
    values: {
      to: address,
      subscriberId: to.subscriberId === undefined ? '' : sesTagValue(to.subscriberId),
      urlRaw: to.unsubscribeUrl,
      urlHtml: probe.html.slice(0, cut),
      nameText: probe.text,
      nameHtml: probe.html.slice(cut + 1),
      nameSubject: probe.subject,
    },
  };
}

interface Compiled {
  /** The serialized message cut at the holes: constant[0], hole[0], constant[1], … constant[n]. */
  constants: Buffer[];
  holes: Hole[];
}

function compile(config: Pick<Config, 'ses'>, letter: RenderedMailout, mailoutId: string, named: boolean, withSubscriberId: boolean, opts: { test?: boolean }): Compiled {
  const s = standIns();
  const p = personalise(letter, { unsubscribeUrl: s.urlRaw, name: named ? s.nameText : null });
  const message = {
    subject: p.subject.replaceAll(s.nameText, s.nameSubject),
    html: p.html.replaceAll(s.urlRaw, s.urlHtml).replaceAll(s.nameText, s.nameHtml),
    text: p.text,
  };
  const to: AddressedRecipient = { email: s.to, name: null, unsubscribeUrl: s.urlRaw, ...(withSubscriberId ? { subscriberId: s.subscriberId } : {}) };
  const json = JSON.stringify(sendEmailInput(config, mailoutId, to, message, opts));
  const byText = new Map(Object.entries(s).map(([hole, text]) => [text, hole as Hole]));
  const pieces = json.split(new RegExp(`(${[...byText.keys()].map((t) => t.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|')})`));
  const constants = pieces.filter((_, i) => i % 2 === 0);
  // A stand-in that some transformation changed would be sent as it is to every recipient.
  const core = s.nameText.slice(1, -2);
  if (constants.some((c) => c.includes(core))) throw new Error('recipientMessageJson: a stand-in was transformed; the serialized message cannot be cut');
  return { constants: constants.map((c) => Buffer.from(c, 'utf8')), holes: pieces.filter((_, i) => i % 2 === 1).map((t) => byText.get(t)!) };
}

const isHigh = (c: number) => c >= 0xd800 && c <= 0xdbff;
const isLow = (c: number) => c >= 0xdc00 && c <= 0xdfff;
/** A value that could pair with a neighbour's half surrogate: JSON.stringify of the whole would differ. */
const pairsAtEdge = (v: string) => v.length > 0 && (isLow(v.charCodeAt(0)) || isHigh(v.charCodeAt(v.length - 1)));

function assemble(c: Compiled, values: Values): Buffer | null {
  const escaped: string[] = [];
  let length = 0;
  for (const b of c.constants) length += b.length;
  for (const hole of c.holes) {
    const v = values[hole];
    if (pairsAtEdge(v)) return null;
    const e = JSON.stringify(v).slice(1, -1);
    escaped.push(e);
    length += Buffer.byteLength(e, 'utf8');
  }
  const out = Buffer.allocUnsafe(length);
  let at = c.constants[0]!.copy(out, 0);
  for (let i = 0; i < escaped.length; i++) {
    at += out.write(escaped[i]!, at, 'utf8');
    at += c.constants[i + 1]!.copy(out, at);
  }
  return out;
}

/**
 * `recipientMessage` for one run, serialized: for every recipient the same bytes as
 * `JSON.stringify(recipientMessage(…))` in UTF-8, the SendEmail request's body. The letter
 * is serialized once per run (with and without a name), and each recipient's copy is that
 * serialization with the recipient's own values written into it: the send loop's CPU per
 * recipient is what Vercel bills, and serializing and encoding a whole letter per recipient
 * was most of it.
 */
export function recipientMessageJson(
  config: Pick<Config, 'ses'>,
  letter: RenderedMailout,
  mailoutId: string,
  opts: { test?: boolean } = {},
): (to: AddressedRecipient) => Buffer {
  const compiled = new Map<string, Compiled>();
  return (to) => {
    const { values, named } = recipientValues(to);
    const withSubscriberId = to.subscriberId !== undefined && to.subscriberId !== '';
    const key = `${named}:${withSubscriberId}`;
    let c = compiled.get(key);
    if (!c) compiled.set(key, (c = compile(config, letter, mailoutId, named, withSubscriberId, opts)));
    return assemble(c, values) ?? Buffer.from(JSON.stringify(recipientMessage(config, letter, mailoutId, to, opts)), 'utf8');
  };
}
