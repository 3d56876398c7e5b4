/**
 * One cell of every CSV the executor writes (the mailout report, the import's rejected rows).
 *
 * A spreadsheet runs a cell as a formula when its first character is = + - @ (OWASP "CSV
 * injection"), and some also after leading whitespace or with the full-width forms ＝ ＋ －
 * ＠ (NFKC folds them, and the small forms, onto the ASCII ones); a leading tab or carriage
 * return is also refused. Such a cell gets a leading apostrophe. RFC 4180 quoting follows
 * (comma, semicolon, quote, tab or line break inside: quoted, quotes doubled).
 */

const LEADING_SPACE = /^[\s\u200B-\u200D\u2060\uFEFF]+/;
const FORMULA_START = new Set(['=', '+', '-', '@']);

export function startsLikeFormula(s: string): boolean {
  if (/^[\t\r\n]/.test(s)) return true;
  const rest = s.replace(LEADING_SPACE, '');
  if (rest === '') return false;
  const first = String.fromCodePoint(rest.codePointAt(0)!).normalize('NFKC');
  return FORMULA_START.has(first[0]!) || first === '\u2212'; // MINUS SIGN
}

export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  const raw = value instanceof Date ? value.toISOString() : String(value);
  const s = startsLikeFormula(raw) ? `'${raw}` : raw;
  return /[",;\t\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
