import { stripInvisible } from '../email';

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g;

/**
 * A display name: invisible and control characters gone, whitespace (newlines too) collapsed,
 * and kept whole, whatever its length (only a letter's Subject shortens it: lib/render/mailout).
 */
export function cleanName(value: string | undefined): string | null {
  if (!value) return null;
  const s = stripInvisible(value).replace(CONTROL, ' ').replace(/\s+/g, ' ').trim();
  return s || null;
}
