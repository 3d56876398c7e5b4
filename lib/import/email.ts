import { domainToASCII } from 'node:url';

/**
 * Cleaning and validation of one address from an import. Practical, not the whole of RFC
 * 5322: `local@domain.tld`, an ASCII dot-atom local part (what Amazon SES accepts), a domain
 * with at least one dot (internationalised domains are stored in their ASCII, punycode form).
 * The local part keeps its spelling; the domain is lowercased.
 */
export type EmailCheck = { ok: true; email: string } | { ok: false; reason: string };

/** Zero-width characters, word joiners, soft hyphens and byte-order marks: invisible, never meant. */
const INVISIBLE = /[\u00AD\u180E\u200B-\u200F\u202A-\u202E\u2060-\u2064\uFEFF]/g;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g;

export function stripInvisible(value: string): string {
  return value.replace(INVISIBLE, '');
}

/**
 * A display name: invisible and control characters gone, whitespace (newlines too) collapsed,
 * and kept whole, whatever its length (only a letter's Subject shortens it: lib/render/mailout).
 */
export function cleanName(value: string | undefined): string | null {
  if (!value) return null;
  const s = stripInvisible(value).replace(CONTROL, ' ').replace(/\s+/g, ' ').trim();
  return s || null;
}

const LOCAL_CHARS = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$/;
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const TLD = /^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$/;

export function checkEmail(raw: string | undefined): EmailCheck {
  let s = stripInvisible(raw ?? '').trim();
  // Harmless wrappers some exports and spreadsheets leave around an address.
  if (/^mailto:/i.test(s)) s = s.slice(7).trim();
  if (s.startsWith('<') && s.endsWith('>')) s = s.slice(1, -1).trim();
  if (s === '') return { ok: false, reason: 'empty email' };
  if (/\s/.test(s)) return { ok: false, reason: 'contains spaces' };
  const at = s.indexOf('@');
  if (at === -1) return { ok: false, reason: 'missing @' };
  if (s.indexOf('@', at + 1) !== -1) return { ok: false, reason: 'more than one @' };
  const local = s.slice(0, at);
  const rawDomain = s.slice(at + 1);
  if (local === '') return { ok: false, reason: 'missing local part' };
  if (rawDomain === '') return { ok: false, reason: 'missing domain' };
  if (local.length > 64) return { ok: false, reason: 'local part longer than 64 characters' };
  if (!LOCAL_CHARS.test(local)) return { ok: false, reason: 'invalid character in local part' };
  if (local.startsWith('.') || local.endsWith('.') || local.includes('..')) {
    return { ok: false, reason: 'invalid dots in local part' };
  }
  // eslint-disable-next-line no-control-regex
  const domain = /^[\x00-\x7F]*$/.test(rawDomain) ? rawDomain.toLowerCase() : domainToASCII(rawDomain.toLowerCase());
  if (!domain) return { ok: false, reason: 'invalid domain' };
  const labels = domain.split('.');
  if (labels.length < 2) return { ok: false, reason: 'invalid domain (no dot)' };
  if (domain.length > 253 || !labels.every((l) => LABEL.test(l)) || !TLD.test(labels[labels.length - 1]!)) {
    return { ok: false, reason: 'invalid domain' };
  }
  const email = `${local}@${domain}`;
  if (email.length > 254) return { ok: false, reason: 'address longer than 254 characters' };
  return { ok: true, email };
}
