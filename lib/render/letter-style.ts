/** The letter's look: fonts, colours and the inline style of each Markdown block in the email HTML. */

export const FONT = "-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif";
export const MONO = "SFMono-Regular,Menlo,Consolas,'Liberation Mono',monospace";
export const TEXT_COLOR = '#1f1f1f';
export const LINK_COLOR = '#1a66c9';
export const MUTED_COLOR = '#6b6b6b';

export const STYLE = {
  p: `margin:0 0 16px 0;font-size:16px;line-height:1.6;color:${TEXT_COLOR}`,
  h1: `margin:28px 0 12px 0;font-size:28px;line-height:1.25;font-weight:700;color:${TEXT_COLOR}`,
  h2: `margin:24px 0 10px 0;font-size:22px;line-height:1.3;font-weight:700;color:${TEXT_COLOR}`,
  h3: `margin:20px 0 8px 0;font-size:18px;line-height:1.35;font-weight:700;color:${TEXT_COLOR}`,
  ul: `margin:0 0 16px 0;padding:0 0 0 24px`,
  task: `margin:0 0 16px 0;padding:0 0 0 4px;list-style:none`,
  li: `margin:0 0 6px 0;font-size:16px;line-height:1.6;color:${TEXT_COLOR}`,
  quote: `margin:0 0 16px 0;padding:12px 16px;border-left:4px solid #d6d6d2;background-color:#f6f6f4;color:${TEXT_COLOR}`,
  pre: `margin:0 0 16px 0;padding:12px 14px;background-color:#f3f4f6;border-radius:6px;font-family:${MONO};font-size:14px;line-height:1.5;white-space:pre-wrap;word-break:break-word;color:${TEXT_COLOR}`,
  codespan: `font-family:${MONO};font-size:0.9em;background-color:#f0f0ee;padding:1px 4px;border-radius:4px;color:#c7254e`,
  hr: `border:0;border-top:1px solid #e2e2de;margin:24px 0 24px 0;height:0`,
  a: `color:${LINK_COLOR};text-decoration:underline`,
  img: `display:block;max-width:100%;height:auto;border:0;margin:0 auto`,
  figure: `margin:0 0 16px 0;text-align:center`,
  caption: `margin:8px 0 0 0;font-size:13px;line-height:1.4;color:${MUTED_COLOR};text-align:center`,
  // The column's text breaks long words and URLs (template.ts); a table cell must not: a
  // header is read as a word and a number as a number, never "Неде/ля" or "10 00/0". A table
  // too wide for the column scrolls sideways inside this box instead, which the fixed
  // layout of the frame's tables makes possible.
  tableWrap: `margin:0 0 16px 0;overflow-x:auto`,
  table: `border-collapse:collapse;width:100%;font-size:14px;line-height:1.5`,
  th: `border:1px solid #deded9;padding:6px 8px;vertical-align:top;font-size:13px;font-weight:700;background-color:#f6f6f4;color:${TEXT_COLOR};word-break:normal;overflow-wrap:normal`,
  td: `border:1px solid #deded9;padding:6px 8px;vertical-align:top;color:${TEXT_COLOR};word-break:normal;overflow-wrap:normal`,
  // A number ("10 000", "−2,5 %", "100 ₽", "12.03.2026") wraps at none of its spaces either.
  nowrap: `white-space:nowrap;`,
};

/** The width of the letter's column (600 px less the card's padding): no image is wider. */
export const COLUMN_WIDTH = 520;
