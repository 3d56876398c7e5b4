import fs from 'node:fs';
import { parse } from 'csv-parse';
import { decodedStream, type ImportEncoding } from './encoding';
import { ImportFileError } from './errors';
import type { Delimiter } from './sniff';

/**
 * The records of an import file, each with the physical line it starts on, and an account of
 * every physical line: the header's, the data records', blank ones, and those inside quoted
 * fields. A parser must never eat rows: a quoted field that spans lines holding what looks
 * like an address is a stray quote swallowing subscribers, and the file is refused with the
 * line where the quote opened (as is a quote that never closes).
 */

export interface LineAccount {
  /** Physical lines of the header row (1 unless a header cell holds a line break). */
  headerLines: number;
  /** Empty lines, and lines holding only whitespace or delimiters. */
  blankLines: number;
  /** Lines taken by line breaks inside the quoted fields of data records. */
  linesInsideFields: number;
}

export interface CsvRecord {
  record: string[];
  /** The physical line the record starts on. */
  line: number;
  header: boolean;
}

const ADDRESS_LIKE = /[^\s,;"'<>()]+@[^\s,;"'<>()]+\.[A-Za-z]{2,}/;

function breaksIn(field: string): number {
  if (field.indexOf('\n') === -1 && field.indexOf('\r') === -1) return 0;
  return field.match(/\r\n|\r|\n/g)?.length ?? 0;
}

function isBlank(record: string[]): boolean {
  for (const f of record) if (f.trim() !== '') return false;
  return true;
}

/** A quoted field whose later lines hold an address: the rows a stray quote swallowed. */
function swallowedRows(filePath: string, record: string[], line: number): ImportFileError | null {
  let at = line;
  for (const field of record) {
    const parts = field.split(/\r\n|\r|\n/);
    const swallowed = parts.slice(1).find((p) => ADDRESS_LIKE.test(p));
    if (swallowed !== undefined) {
      const last = at + parts.length - 1;
      return new ImportFileError(
        `${filePath} is not valid CSV: a quote opened on line ${at} closes only on line ${last}, swallowing lines ` +
          `${at + 1}-${last} (such as ${JSON.stringify(swallowed.slice(0, 80))}) into one field. ` +
          `Remove the stray " on line ${at} (or double it: "") and import again; nothing was imported.`,
        { details: { line: at, closesOnLine: last } },
      );
    }
    at += parts.length - 1;
  }
  return null;
}

export interface RecordReader {
  records: AsyncIterable<CsvRecord>;
  account: LineAccount;
  /** The last physical line consumed so far. */
  lastLine(): number;
  /** Bytes of text the parser has consumed. */
  bytesParsed(): number;
  close(): void;
}

export function readCsvRecords(filePath: string, encoding: ImportEncoding, delimiter: Delimiter): RecordReader {
  const account: LineAccount = { headerLines: 0, blankLines: 0, linesInsideFields: 0 };
  const input = fs.createReadStream(filePath);
  const parser = parse({ delimiter, bom: true, info: true, relax_column_count: true, relax_quotes: true, skip_empty_lines: true });
  const decode = decodedStream(encoding);
  input.on('error', (err) => parser.destroy(err));
  if (decode) {
    decode.on('error', (err) => parser.destroy(err));
    input.pipe(decode).pipe(parser);
  } else input.pipe(parser);

  let lineEnd = 0;
  let emptyLines = 0;

  async function* records(): AsyncGenerator<CsvRecord> {
    try {
      for await (const item of parser as AsyncIterable<{ record: string[]; info: { empty_lines: number } }>) {
        const { record, info } = item;
        account.blankLines += info.empty_lines - emptyLines;
        lineEnd += info.empty_lines - emptyLines;
        emptyLines = info.empty_lines;
        const line = lineEnd + 1;
        const breaks = record.reduce((n, f) => n + breaksIn(f), 0);
        lineEnd = line + breaks;
        if (breaks > 0) {
          const swallowed = swallowedRows(filePath, record, line);
          if (swallowed) throw swallowed;
        }
        if (account.headerLines === 0) {
          account.headerLines = 1 + breaks;
          yield { record, line, header: true };
          continue;
        }
        if (isBlank(record)) {
          account.blankLines += 1 + breaks;
          continue;
        }
        account.linesInsideFields += breaks;
        yield { record, line, header: false };
      }
    } catch (err) {
      input.destroy();
      const e = err as Error & { code?: string; lines?: number };
      if (e.code === 'CSV_QUOTE_NOT_CLOSED') {
        // The unfinished record starts after the empty lines skipped since the last one.
        const opened = lineEnd + Math.max(0, parser.info.empty_lines - emptyLines) + 1;
        throw new ImportFileError(
          `${filePath} is not valid CSV: a quote opened on line ${opened} is never closed. ` +
            `Remove the stray " (or double it: "") and import again; nothing was imported.`,
          { cause: err, details: { line: opened } },
        );
      }
      if (typeof e.code === 'string' && e.code.startsWith('CSV_')) {
        throw new ImportFileError(`${filePath} is not valid CSV: ${e.message}`, { cause: err, details: { line: e.lines } });
      }
      if (!(err instanceof ImportFileError) && (e as NodeJS.ErrnoException).syscall) {
        throw new ImportFileError(`Cannot read ${filePath}: ${e.message}`, { cause: err });
      }
      throw err;
    }
  }

  return {
    records: records(),
    account,
    lastLine: () => lineEnd,
    bytesParsed: () => parser.info.bytes,
    close: () => input.destroy(),
  };
}
