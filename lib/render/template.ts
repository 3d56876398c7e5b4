import { FONT, LINK_COLOR, MUTED_COLOR, TEXT_COLOR } from './letter-style';
import { escapeHtml } from '../html';

/**
 * The email-safe frame around a body: nested presentation tables (Outlook), a 600 px
 * column that shrinks on phones, inline styles everywhere (Gmail drops most of <head>),
 * a hidden preheader, and a dark-mode stylesheet for the clients that honour one
 * (Apple Mail, iOS, Outlook for Mac, Thunderbird); the rest keep the light palette, which
 * stays readable when a client inverts it.
 *
 * Both layout tables are `table-layout:fixed`: the column is as wide as the screen allows,
 * never as wide as its content, so a data table wider than a phone scrolls inside its own
 * box (html-body.ts) instead of stretching the letter past the screen.
 */

export const UNSUBSCRIBE_PLACEHOLDER = '{{unsubscribe_url}}';

const LABELS = {
  ru: { unsubscribe: 'Отписаться от рассылки', view: 'Открыть в браузере', why: (list: string) => `Вы получили это письмо как подписчик рассылки «${list}».` },
  en: { unsubscribe: 'Unsubscribe', view: 'View in browser', why: (list: string) => `You are receiving this email as a subscriber to ${list}.` },
};

/**
 * The footer's links (view in the browser, unsubscribe) sit between these markers: the web
 * version of the letter (lib/view) leaves them out, as it has no reader to unsubscribe.
 */
export const READER_LINKS_START = '<!--n:reader-links-->';
export const READER_LINKS_END = '<!--/n:reader-links-->';

export interface FrameInput {
  lang: 'ru' | 'en';
  subject: string;
  preheader?: string;
  bodyHtml: string;
  bodyText: string;
  footerAddress?: string;
  listName?: string;
  /** The signed link to this letter's web version (lib/view), when the mailout has one. */
  viewUrl?: string;
}

const BG = '#f4f4f2';

function footerLines(input: FrameInput): string[] {
  const lines: string[] = [];
  if (input.listName) lines.push(LABELS[input.lang].why(input.listName));
  if (input.footerAddress) lines.push(...input.footerAddress.split(/\\n|\n/).map((l) => l.trim()).filter(Boolean));
  return lines;
}

export function frameHtml(input: FrameInput): string {
  const labels = LABELS[input.lang];
  // Invisible filler after the preheader keeps clients from appending body text to it. It is
  // hidden by display:none (Gmail, Apple Mail, Outlook.com), mso-hide:all (Outlook for
  // Windows) and a zero box for the rest; no colour like the background and no 1 px font,
  // which spam filters read as hidden text (SpamAssassin's HTML_FONT_LOW_CONTRAST, __FONT_INVIS).
  const preheader = input.preheader
    ? `<div style="display:none;max-height:0;max-width:0;opacity:0;overflow:hidden;mso-hide:all">${escapeHtml(input.preheader)}${'&#847;&zwnj;&nbsp;'.repeat(60)}</div>\n`
    : '';
  const footer = footerLines(input)
    .map((l) => escapeHtml(l))
    .join('<br>');
  const link = (href: string, label: string) => `<a href="${href}" style="color:${LINK_COLOR};text-decoration:underline;">${label}</a>`;
  const links = [...(input.viewUrl ? [link(escapeHtml(input.viewUrl), labels.view)] : []), link(UNSUBSCRIBE_PLACEHOLDER, labels.unsubscribe)].join(' &middot; ');
  return `<!DOCTYPE html>
<html lang="${input.lang}" dir="ltr" xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="X-UA-Compatible" content="IE=edge">
<meta name="x-apple-disable-message-reformatting">
<meta name="color-scheme" content="light dark">
<meta name="supported-color-schemes" content="light dark">
<title>${escapeHtml(input.subject)}</title>
<style>
  body { margin:0 !important; padding:0 !important; width:100% !important; -webkit-text-size-adjust:100%; -ms-text-size-adjust:100%; }
  img { -ms-interpolation-mode:bicubic; }
  a[x-apple-data-detectors] { color:inherit !important; text-decoration:none !important; }
  @media only screen and (max-width:620px) {
    .n-container { width:100% !important; }
    .n-content { padding:24px 18px !important; }
    .n-footer { padding:16px 18px !important; }
    .n-outer { padding:0 !important; }
  }
  @media (prefers-color-scheme: dark) {
    body, .n-bg { background-color:#121212 !important; }
    .n-card { background-color:#1e1e1e !important; }
    .n-card, .n-card p, .n-card li, .n-card h1, .n-card h2, .n-card h3, .n-card td, .n-card th, .n-card div, .n-card pre { color:#e6e6e6 !important; }
    .n-card a, .n-link, .n-footer a { color:#8ab4f8 !important; }
    .n-quote, .n-code { background-color:#2a2a2a !important; border-color:#4a4a4a !important; }
    .n-codespan { background-color:#2a2a2a !important; color:#f28b82 !important; }
    .n-cell { border-color:#444444 !important; }
    th.n-cell { background-color:#2a2a2a !important; }
    .n-muted, .n-footer { color:#a8a8a8 !important; }
  }
  [data-ogsc] .n-card { background-color:#1e1e1e !important; }
  [data-ogsc] .n-card p, [data-ogsc] .n-card li, [data-ogsc] .n-card h1, [data-ogsc] .n-card h2, [data-ogsc] .n-card h3 { color:#e6e6e6 !important; }
</style>
<!--[if mso]><style>table,td,div,p,li,h1,h2,h3{font-family:Arial,sans-serif !important;}</style><![endif]-->
</head>
<body class="n-bg" style="margin:0;padding:0;background-color:${BG};">
${preheader}<table role="presentation" class="n-bg" width="100%" cellpadding="0" cellspacing="0" border="0" style="background-color:${BG};width:100%;table-layout:fixed;">
<tr><td align="center" class="n-outer" style="padding:24px 12px;">
<!--[if mso]><table role="presentation" width="600" cellpadding="0" cellspacing="0" border="0"><tr><td><![endif]-->
<table role="presentation" class="n-container" width="600" cellpadding="0" cellspacing="0" border="0" style="width:100%;max-width:600px;table-layout:fixed;">
<tr><td class="n-card n-content" style="background-color:#ffffff;padding:32px 40px;border-radius:8px;font-family:${FONT};font-size:16px;line-height:1.6;color:${TEXT_COLOR};word-break:break-word;overflow-wrap:break-word;">
${input.bodyHtml}
</td></tr>
<tr><td class="n-footer" style="padding:20px 40px;font-family:${FONT};font-size:12px;line-height:1.6;color:${MUTED_COLOR};text-align:center;">
${footer}${READER_LINKS_START}${footer ? '<br>\n' : ''}${links}${READER_LINKS_END}
</td></tr>
</table>
<!--[if mso]></td></tr></table><![endif]-->
</td></tr>
</table>
</body>
</html>
`;
}

export function frameText(input: FrameInput): string {
  const labels = LABELS[input.lang];
  const footer = footerLines(input);
  const view = input.viewUrl ? `${labels.view}: ${input.viewUrl}\n` : '';
  return `${input.bodyText.trim()}\n\n-- \n${footer.length ? footer.join('\n') + '\n' : ''}${view}${labels.unsubscribe}: ${UNSUBSCRIBE_PLACEHOLDER}\n`;
}
