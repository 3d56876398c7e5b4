import { isUtf8 } from 'node:buffer';
import fs from 'node:fs';
import { Transform } from 'node:stream';
import { ImportFileError } from './errors';

/**
 * The text encoding of an import file, decided over the whole file before anything is read
 * as CSV, and its physical line count (to reconcile the summary with).
 *
 *   - UTF-8 (with or without a BOM): every byte sequence valid;
 *   - Windows-1251, the Russian Excel default (or KOI8-R): the file is not valid UTF-8 and,
 *     decoded as that code page, its non-ASCII text is Cyrillic words: letters from
 *     U+0400-U+04FF and Russian typography only, no word mixing Latin and Cyrillic letters
 *     (a Latin-1 "René" would read "Renй"), no lower-case letter followed by a capital inside
 *     a word (KOI8-R read as Windows-1251 gives "иВАН");
 *   - anything else (UTF-16, a NUL byte, another code page) is refused with what to do.
 * A decoding never produces U+FFFD silently: an undecodable file is an error.
 */

export type ImportEncoding = 'utf-8' | 'windows-1251' | 'koi8-r';

export const ENCODING_NAMES: Record<ImportEncoding, string> = {
  'utf-8': 'UTF-8',
  'windows-1251': 'Windows-1251 (Cyrillic), decoded to UTF-8',
  'koi8-r': 'KOI8-R (Cyrillic), decoded to UTF-8',
};

export interface FileScan {
  encoding: ImportEncoding;
  /** Physical lines: line breaks (CRLF, LF or CR), plus a last line without one. */
  lines: number;
  size: number;
}

const SAVE_AS_UTF8 = 'save it as UTF-8 (in Excel: "CSV UTF-8") and import again';

function lineAt(lines: number): number {
  return lines + 1;
}

/** Offset of the first invalid UTF-8 sequence in `buf`, or -1; an incomplete sequence at the end is `tail`. */
function invalidUtf8At(buf: Buffer): { invalid: number; tail: number } {
  let i = 0;
  while (i < buf.length) {
    const b = buf[i]!;
    if (b < 0x80) {
      i += 1;
      continue;
    }
    const n = b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : -1;
    if (n < 0) return { invalid: i, tail: 0 };
    if (i + n >= buf.length) {
      // Cut by the chunk boundary: what is there must continue it; the rest comes next.
      for (let k = 1; i + k < buf.length; k++) if ((buf[i + k]! & 0xc0) !== 0x80) return { invalid: i, tail: 0 };
      return { invalid: -1, tail: buf.length - i };
    }
    for (let k = 1; k <= n; k++) if ((buf[i + k]! & 0xc0) !== 0x80) return { invalid: i, tail: 0 };
    const c1 = buf[i + 1]!;
    if ((b === 0xe0 && c1 < 0xa0) || (b === 0xed && c1 > 0x9f) || (b === 0xf0 && c1 < 0x90) || (b === 0xf4 && c1 > 0x8f)) {
      return { invalid: i, tail: 0 };
    }
    i += n + 1;
  }
  return { invalid: -1, tail: 0 };
}

function countBreaks(buf: Buffer, from: number, to: number, prevWasCr: boolean): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const b = buf[i];
    if (b === 0x0a) {
      if (!(i === from ? prevWasCr : buf[i - 1] === 0x0d)) n += 1;
    } else if (b === 0x0d) n += 1;
  }
  return n;
}

/** One pass over the file: UTF-16 and NUL refused, UTF-8 validity, physical lines. */
async function scanBytes(filePath: string): Promise<{ size: number; lines: number; invalidUtf8Line: number | null; invalidByte?: number }> {
  let size = 0;
  let lines = 0;
  let prevWasCr = false;
  let lastByte = -1;
  let carry = Buffer.alloc(0);
  let invalidUtf8Line: number | null = null;
  let invalidByte: number | undefined;
  for await (const raw of fs.createReadStream(filePath)) {
    const chunk = raw as Buffer;
    if (size === 0 && chunk.length >= 2 && ((chunk[0] === 0xff && chunk[1] === 0xfe) || (chunk[0] === 0xfe && chunk[1] === 0xff))) {
      throw new ImportFileError(`${filePath} is UTF-16; ${SAVE_AS_UTF8}`);
    }
    const nul = chunk.indexOf(0);
    if (nul !== -1) {
      throw new ImportFileError(`${filePath} holds a NUL byte on line ${lineAt(lines + countBreaks(chunk, 0, nul, prevWasCr))}: it is not a text CSV file; ${SAVE_AS_UTF8}`);
    }
    if (invalidUtf8Line === null) {
      const buf = carry.length ? Buffer.concat([carry, chunk]) : chunk;
      const { invalid, tail } = isUtf8(buf) ? { invalid: -1, tail: 0 } : invalidUtf8At(buf);
      if (invalid !== -1) {
        const inChunk = Math.max(0, invalid - carry.length);
        invalidUtf8Line = lineAt(lines + countBreaks(chunk, 0, inChunk, prevWasCr));
        invalidByte = buf[invalid];
      }
      carry = tail ? Buffer.from(buf.subarray(buf.length - tail)) : Buffer.alloc(0);
    }
    lines += countBreaks(chunk, 0, chunk.length, prevWasCr);
    prevWasCr = chunk[chunk.length - 1] === 0x0d;
    lastByte = chunk[chunk.length - 1] ?? lastByte;
    size += chunk.length;
  }
  if (invalidUtf8Line === null && carry.length) invalidUtf8Line = lineAt(lines);
  if (size > 0 && lastByte !== 0x0a && lastByte !== 0x0d) lines += 1;
  return { size, lines, invalidUtf8Line, ...(invalidByte !== undefined ? { invalidByte } : {}) };
}

const CYRILLIC = /[\u0400-\u04FF]/;
/** Non-ASCII characters a Russian text may hold besides letters: «» „“ ” — – … № NBSP • · ’ ‘ € ‰. */
const RUSSIAN_TYPOGRAPHY = /[\u00A0\u00AB\u00BB\u2013\u2014\u2018\u2019\u201C\u201D\u201E\u2026\u2116\u2022\u00B7\u20AC\u2030\u00A9\u00AE\u00B0\u00B1\u2122]/;

export interface CyrillicScore {
  cyrillicWords: number;
  /** Words mixing Latin and Cyrillic letters. */
  mixedWords: number;
  /** Words with a lower-case letter followed by a capital. */
  miscasedWords: number;
  /** Non-ASCII characters that are neither Cyrillic letters nor Russian typography. */
  strangeChars: number;
  nonAsciiChars: number;
}

export function scoreCyrillic(text: string): CyrillicScore {
  const s: CyrillicScore = { cyrillicWords: 0, mixedWords: 0, miscasedWords: 0, strangeChars: 0, nonAsciiChars: 0 };
  for (const ch of text) {
    if (ch.charCodeAt(0) < 0x80) continue;
    s.nonAsciiChars += 1;
    if (!CYRILLIC.test(ch) && !RUSSIAN_TYPOGRAPHY.test(ch)) s.strangeChars += 1;
  }
  for (const [word] of text.matchAll(/[\p{L}]+/gu)) {
    if (!CYRILLIC.test(word)) continue;
    s.cyrillicWords += 1;
    if (/[A-Za-z]/.test(word)) s.mixedWords += 1;
    if (/\p{Ll}\p{Lu}/u.test(word)) s.miscasedWords += 1;
  }
  return s;
}

export function looksCyrillic(s: CyrillicScore): boolean {
  return (
    s.cyrillicWords > 0 &&
    s.strangeChars <= s.nonAsciiChars * 0.01 &&
    s.mixedWords <= s.cyrillicWords * 0.05 &&
    s.miscasedWords <= s.cyrillicWords * 0.05
  );
}

async function scoreFileAs(filePath: string, encoding: ImportEncoding): Promise<CyrillicScore> {
  const decoder = new TextDecoder(encoding);
  const total: CyrillicScore = { cyrillicWords: 0, mixedWords: 0, miscasedWords: 0, strangeChars: 0, nonAsciiChars: 0 };
  for await (const chunk of fs.createReadStream(filePath)) {
    const s = scoreCyrillic(decoder.decode(chunk as Buffer, { stream: true }));
    for (const k of Object.keys(total) as (keyof CyrillicScore)[]) total[k] += s[k];
  }
  return total;
}

export async function scanImportFile(filePath: string): Promise<FileScan> {
  const bytes = await scanBytes(filePath);
  if (bytes.invalidUtf8Line === null) return { encoding: 'utf-8', lines: bytes.lines, size: bytes.size };
  for (const encoding of ['windows-1251', 'koi8-r'] as const) {
    if (looksCyrillic(await scoreFileAs(filePath, encoding))) return { encoding, lines: bytes.lines, size: bytes.size };
  }
  const byte = bytes.invalidByte !== undefined ? ` (byte 0x${bytes.invalidByte.toString(16).toUpperCase().padStart(2, '0')})` : '';
  throw new ImportFileError(
    `${filePath} is not UTF-8: line ${bytes.invalidUtf8Line} holds text that is not valid UTF-8${byte}, and the file does not read as ` +
      `Windows-1251 or KOI8-R Cyrillic either; ${SAVE_AS_UTF8}`,
  );
}

/** The file's text as UTF-8 strings (single-byte code pages decoded), for the CSV parser. */
export function decodedStream(encoding: ImportEncoding): Transform | null {
  if (encoding === 'utf-8') return null;
  const decoder = new TextDecoder(encoding);
  return new Transform({
    decodeStrings: true,
    transform(chunk: Buffer, _enc, done) {
      done(null, decoder.decode(chunk, { stream: true }));
    },
    flush(done) {
      const rest = decoder.decode();
      done(null, rest || undefined);
    },
  });
}
