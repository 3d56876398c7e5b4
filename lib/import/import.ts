import fs from 'node:fs';
import path from 'node:path';
import { AppError } from '../errors';
import type { Db } from '../db/types';
import { mapColumns, EMAIL_ALIASES, type ColumnMap } from './columns';
import { checkEmail } from '../email';
import { cleanName } from './email';
import { scanImportFile, type FileScan, type ImportEncoding } from './encoding';
import { readCsvRecords } from './records';
import { sniffDelimiter, type Delimiter } from './sniff';
import { ImportFileError } from './errors';
import { RejectedReport } from './report';
import { importSubscriberRows, type ImportRow } from './store';

export { ImportFileError };

/**
 * Import a subscriber list (a GetResponse CSV export, or any CSV with an email column) in
 * streaming passes: the bytes are scanned (encoding: UTF-8, or Windows-1251/KOI8-R decoded;
 * physical lines), the whole file is read as CSV once without writing (a refused file writes
 * nothing: no email column, a stray or unclosed quote), then it is parsed record by record
 * (csv-parse), each address is cleaned and validated, the file's duplicates are dropped, and
 * the rest is upserted in chunks through the SQL function `import_subscribers` (one call per
 * chunk, one chunk in flight while the next is parsed). A row holding U+FFFD is rejected,
 * never stored. Only the set of addresses seen so far is kept in memory.
 */

export interface ImportOptions {
  /** Validate and count without writing. With a database, the counts are what would happen. */
  dryRun?: boolean;
  /** Stored as `source` for every row; otherwise the row's campaign/list column, else `import:<file name>`. */
  source?: string;
  /** Write the rejected rows (line, email, name, reason) to this CSV file. */
  rejectedReportPath?: string;
  onProgress?: (p: ImportProgress) => void;
  /** Rows per `import_subscribers` call (default 2000). */
  chunkSize?: number;
  /** Upper bound of one call's JSON body in bytes (default 512 KiB; PostgREST's limit is larger). */
  maxChunkBytes?: number;
}

export interface ImportProgress {
  bytesRead: number;
  totalBytes: number;
  /** Data rows read so far (blank lines not counted). */
  read: number;
  /** Rows the database has answered for so far. */
  written: number;
  rejected: number;
  duplicates: number;
  done: boolean;
}

export interface ImportSummary {
  file: string;
  /** The file's encoding; a Windows-1251 or KOI8-R file is decoded to UTF-8. */
  encoding: ImportEncoding;
  delimiter: Delimiter;
  dryRun: boolean;
  /** False when a dry run had no database: inserted/updated/unchanged are then not known (0). */
  checkedAgainstDb: boolean;
  /** The header names of the columns used. */
  columns: { email: string; name?: string; firstName?: string; lastName?: string; source?: string };
  /** Physical lines of the file: lines = headerLines + read + linesInsideFields + blankLines. */
  lines: number;
  headerLines: number;
  /** Empty lines, and lines with only whitespace or delimiters. */
  blankLines: number;
  /** Lines taken by line breaks inside quoted fields of data rows. */
  linesInsideFields: number;
  /** Data rows read (the header and blank lines not counted). read = valid + rejected + duplicates. */
  read: number;
  /** Distinct valid addresses sent to the database: valid = inserted + updated + unchanged. */
  valid: number;
  inserted: number;
  updated: number;
  unchanged: number;
  rejected: number;
  duplicates: number;
  rejectedReportPath?: string;
  durationMs: number;
}

const SAMPLE_BYTES = 64 * 1024;

async function readSample(filePath: string, encoding: ImportEncoding): Promise<{ text: string; complete: boolean }> {
  const handle = await fs.promises.open(filePath, 'r');
  try {
    const buf = Buffer.alloc(SAMPLE_BYTES);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    // A multi-byte character cut at the end of the sample is left out, not replaced.
    let text = new TextDecoder(encoding).decode(buf.subarray(0, bytesRead), { stream: true });
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    return { text, complete: bytesRead < SAMPLE_BYTES };
  } finally {
    await handle.close();
  }
}

/** A path that cannot be read as a file: a clear error before any pass over it. */
async function checkReadable(filePath: string): Promise<void> {
  let stat: fs.Stats;
  try {
    stat = await fs.promises.stat(filePath);
    await fs.promises.access(filePath, fs.constants.R_OK);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.message;
    throw new ImportFileError(`Cannot read ${filePath}: ${why}`, { cause: err });
  }
  if (stat.isDirectory()) throw new ImportFileError(`Cannot read ${filePath}: it is a directory`);
}

function fieldAt(record: string[], i: number | undefined): string | undefined {
  return i === undefined ? undefined : record[i];
}

/** U+FFFD: text damaged before it reached us (a wrong decoding upstream). Never stored. */
const REPLACEMENT = '\uFFFD';

function columnNames(map: ColumnMap): ImportSummary['columns'] {
  const h = (i: number | undefined) => (i === undefined ? undefined : map.header[i]);
  const out: ImportSummary['columns'] = { email: map.header[map.email]! };
  if (map.name !== undefined) out.name = h(map.name);
  if (map.firstName !== undefined) out.firstName = h(map.firstName);
  if (map.lastName !== undefined) out.lastName = h(map.lastName);
  if (map.source !== undefined) out.source = h(map.source);
  return out;
}

function noEmailColumn(filePath: string, header: string[], line: number): ImportFileError {
  const found = header.map((h) => JSON.stringify(h.trim())).join(', ');
  return new ImportFileError(
    `No email column in ${filePath}: the header (line ${line}) has ${found}; ` +
      `expected a column named like ${EMAIL_ALIASES.slice(0, 3).map((a) => JSON.stringify(a)).join(', ')} or "E-mail"`,
  );
}

/**
 * The first pass: the whole file read as CSV, nothing written. Every structural refusal
 * (no email column, a stray or unclosed quote) happens here, so a refused file writes
 * nothing; the line account must add up to the file's physical lines.
 */
async function checkStructure(filePath: string, scan: FileScan, delimiter: Delimiter): Promise<ColumnMap> {
  const reader = readCsvRecords(filePath, scan.encoding, delimiter);
  let map: ColumnMap | null = null;
  for await (const { record, line, header } of reader.records) {
    if (header) {
      map = mapColumns(record);
      if (!map) {
        reader.close();
        throw noEmailColumn(filePath, record, line);
      }
    }
  }
  if (map === null) throw new ImportFileError(`${filePath} is empty: no header row`);
  if (reader.lastLine() > scan.lines) {
    throw new ImportFileError(`${filePath}: the CSV reader accounted for ${reader.lastLine()} lines of ${scan.lines}; nothing was imported`);
  }
  return map;
}

export async function importSubscribersFromFile(
  db: Db | null,
  filePath: string,
  options: ImportOptions = {},
): Promise<ImportSummary> {
  const started = Date.now();
  const dryRun = options.dryRun ?? false;
  if (!db && !dryRun) throw new AppError('config', 'A database is required unless this is a dry run');
  const chunkSize = options.chunkSize ?? 2000;
  const maxChunkBytes = options.maxChunkBytes ?? 512 * 1024;
  const onProgress = options.onProgress ?? (() => undefined);
  const fixedSource = options.source?.trim() || null;
  const defaultSource = `import:${path.basename(filePath)}`;

  await checkReadable(filePath);
  const scan = await scanImportFile(filePath);
  const sample = await readSample(filePath, scan.encoding);
  if (sample.text.trim() === '') throw new ImportFileError(`${filePath} is empty: no header row`);
  const delimiter = sniffDelimiter(sample.text, sample.complete);
  const map = await checkStructure(filePath, scan, delimiter);

  const summary: ImportSummary = {
    file: filePath,
    encoding: scan.encoding,
    delimiter,
    dryRun,
    checkedAgainstDb: db !== null,
    columns: columnNames(map),
    lines: scan.lines,
    headerLines: 0,
    blankLines: 0,
    linesInsideFields: 0,
    read: 0,
    valid: 0,
    inserted: 0,
    updated: 0,
    unchanged: 0,
    rejected: 0,
    duplicates: 0,
    durationMs: 0,
  };

  const report = options.rejectedReportPath ? await RejectedReport.open(options.rejectedReportPath) : null;
  const reader = readCsvRecords(filePath, scan.encoding, delimiter);

  const seen = new Set<string>();
  let chunk: ImportRow[] = [];
  let chunkBytes = 2;
  let written = 0;
  let inFlight: Promise<void> | null = null;
  let dbFailure: unknown = null;

  const progress = (done: boolean) =>
    onProgress({
      // What the parser has consumed (the read stream runs ahead of it).
      bytesRead: done ? scan.size : Math.min(scan.size, reader.bytesParsed()),
      totalBytes: scan.size,
      read: summary.read,
      written,
      rejected: summary.rejected,
      duplicates: summary.duplicates,
      done,
    });

  const send = async (rows: ImportRow[]): Promise<void> => {
    if (!db) {
      written += rows.length;
      return;
    }
    const r = await importSubscriberRows(db, rows, dryRun);
    summary.inserted += r.inserted;
    summary.updated += r.updated;
    summary.unchanged += r.unchanged;
    written += rows.length;
  };

  const flush = async (): Promise<void> => {
    if (inFlight) await inFlight;
    if (dbFailure) throw dbFailure;
    if (chunk.length === 0) return;
    const rows = chunk;
    chunk = [];
    chunkBytes = 2;
    inFlight = send(rows).then(
      () => progress(false),
      (err) => {
        dbFailure = err;
      },
    );
  };

  const reject = async (line: number, email: string, name: string | null, reason: string) => {
    summary.rejected += 1;
    if (report) await report.write({ line, email, name, reason });
  };

  try {
    for await (const { record, line, header } of reader.records) {
      if (header) continue;
      summary.read += 1;
      const rawEmail = record[map.email] ?? '';
      const name =
        cleanName(fieldAt(record, map.name)) ??
        cleanName([fieldAt(record, map.firstName), fieldAt(record, map.lastName)].filter(Boolean).join(' '));
      const rawSource = fieldAt(record, map.source);
      if (rawEmail.includes(REPLACEMENT) || name?.includes(REPLACEMENT) || (!fixedSource && rawSource?.includes(REPLACEMENT))) {
        await reject(line, rawEmail, name, 'holds U+FFFD (\uFFFD): the text was damaged before this export; fix the row or export again');
        continue;
      }
      if (record.slice(map.header.length).some((f) => f.trim() !== '')) {
        // Which value the extra delimiter split cannot be known: storing a guess would cut a name.
        const why = `${record.length} values where the header has ${map.header.length}: an unquoted "${delimiter === '\t' ? 'tab' : delimiter}" inside a value? Quote that value`;
        await reject(line, rawEmail, name, why);
        continue;
      }
      const checked = checkEmail(rawEmail);
      if (!checked.ok) {
        await reject(line, rawEmail, name, checked.reason);
        continue;
      }
      const key = checked.email.toLowerCase();
      if (seen.has(key)) {
        summary.duplicates += 1;
        continue;
      }
      seen.add(key);
      summary.valid += 1;
      const row: ImportRow = {
        email: checked.email,
        name: name,
        source: fixedSource ?? cleanName(rawSource) ?? defaultSource,
      };
      chunk.push(row);
      chunkBytes += checked.email.length + (name?.length ?? 0) * 3 + (row.source?.length ?? 0) * 3 + 48;
      if (chunk.length >= chunkSize || chunkBytes >= maxChunkBytes) await flush();
    }
    await flush();
    if (inFlight) await inFlight;
    if (dbFailure) throw dbFailure;
  } catch (err) {
    reader.close();
    if (inFlight) await inFlight;
    throw err;
  } finally {
    if (report) await report.close();
  }

  const a = reader.account;
  summary.headerLines = a.headerLines;
  summary.linesInsideFields = a.linesInsideFields;
  summary.blankLines = a.blankLines + (scan.lines - reader.lastLine());
  if (report) summary.rejectedReportPath = options.rejectedReportPath;
  summary.durationMs = Date.now() - started;
  progress(true);
  return summary;
}
