import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse';
import { AppError } from '../errors';
import type { Db } from '../db/types';
import { mapColumns, EMAIL_ALIASES, type ColumnMap } from './columns';
import { checkEmail, cleanName } from './email';
import { sniffDelimiter, type Delimiter } from './sniff';
import { ImportFileError } from './errors';
import { RejectedReport } from './report';

export { ImportFileError };

/**
 * Import a subscriber list (a GetResponse CSV export, or any CSV with an email column) in
 * one streaming pass: the file is parsed record by record (csv-parse), each address is
 * cleaned and validated, the file's duplicates are dropped, and the rest is upserted in
 * chunks through the SQL function `import_subscribers` (one call per chunk, one chunk in
 * flight while the next is parsed). Only the set of addresses seen so far is kept in memory.
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
  delimiter: Delimiter;
  dryRun: boolean;
  /** False when a dry run had no database: inserted/updated/unchanged are then not known (0). */
  checkedAgainstDb: boolean;
  /** The header names of the columns used. */
  columns: { email: string; name?: string; firstName?: string; lastName?: string; source?: string };
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

export interface ImportRow {
  email: string;
  from_name: string | null;
  source: string | null;
}

const SAMPLE_BYTES = 64 * 1024;

async function readSample(filePath: string): Promise<{ text: string; complete: boolean; size: number }> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(filePath, 'r');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.message;
    throw new ImportFileError(`Cannot read ${filePath}: ${why}`, { cause: err });
  }
  try {
    const stat = await handle.stat();
    if (stat.isDirectory()) throw new ImportFileError(`Cannot read ${filePath}: it is a directory`);
    const buf = Buffer.alloc(Math.min(SAMPLE_BYTES, stat.size));
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    const bytes = buf.subarray(0, bytesRead);
    if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
      throw new ImportFileError(`${filePath} is UTF-16; save it as UTF-8 (CSV UTF-8) and import again`);
    }
    let text = bytes.toString('utf8');
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    return { text, complete: bytesRead >= stat.size, size: stat.size };
  } finally {
    await handle.close();
  }
}

function fieldAt(record: string[], i: number | undefined): string | undefined {
  return i === undefined ? undefined : record[i];
}

/** Line breaks inside the fields of a record (a CRLF counts once), to keep line numbers exact. */
function breaksIn(record: string[]): number {
  let n = 0;
  for (const f of record) {
    if (f.indexOf('\n') === -1 && f.indexOf('\r') === -1) continue;
    const m = f.match(/\r\n|\r|\n/g);
    n += m ? m.length : 0;
  }
  return n;
}

function isBlank(record: string[]): boolean {
  for (const f of record) if (f.trim() !== '') return false;
  return true;
}

function columnNames(map: ColumnMap): ImportSummary['columns'] {
  const h = (i: number | undefined) => (i === undefined ? undefined : map.header[i]);
  const out: ImportSummary['columns'] = { email: map.header[map.email]! };
  if (map.name !== undefined) out.name = h(map.name);
  if (map.firstName !== undefined) out.firstName = h(map.firstName);
  if (map.lastName !== undefined) out.lastName = h(map.lastName);
  if (map.source !== undefined) out.source = h(map.source);
  return out;
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

  const sample = await readSample(filePath);
  if (sample.text.trim() === '') throw new ImportFileError(`${filePath} is empty: no header row`);
  const delimiter = sniffDelimiter(sample.text, sample.complete);

  const summary: ImportSummary = {
    file: filePath,
    delimiter,
    dryRun,
    checkedAgainstDb: db !== null,
    columns: { email: '' },
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
  const input = fs.createReadStream(filePath);
  const parser = parse({
    delimiter,
    bom: true,
    info: true,
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: true,
  });
  input.on('error', (err) => parser.destroy(err));
  input.pipe(parser);

  const seen = new Set<string>();
  let chunk: ImportRow[] = [];
  let chunkBytes = 2;
  let written = 0;
  let inFlight: Promise<void> | null = null;
  let dbFailure: unknown = null;

  const progress = (done: boolean) =>
    onProgress({
      // What the parser has consumed (the read stream runs ahead of it).
      bytesRead: done ? sample.size : Math.min(sample.size, parser.info.bytes),
      totalBytes: sample.size,
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
    const res = await db.rpc<{ inserted: number; updated: number; unchanged: number }>('import_subscribers', {
      p_rows: rows,
      p_dry_run: dryRun,
    });
    const r = res[0];
    if (!r) throw new AppError('database', 'import_subscribers returned no row');
    summary.inserted += Number(r.inserted);
    summary.updated += Number(r.updated);
    summary.unchanged += Number(r.unchanged);
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

  let map: ColumnMap | null = null;
  let lineEnd = 0; // the last physical line consumed so far
  let emptyLines = 0;
  try {
    for await (const item of parser as AsyncIterable<{ record: string[]; info: { empty_lines: number } }>) {
      const { record, info } = item;
      lineEnd += info.empty_lines - emptyLines;
      emptyLines = info.empty_lines;
      const line = lineEnd + 1;
      lineEnd = line + breaksIn(record);

      if (map === null) {
        map = mapColumns(record);
        if (!map) {
          const found = record.map((h) => JSON.stringify(h.trim())).join(', ');
          throw new ImportFileError(
            `No email column in ${filePath}: the header (line ${line}) has ${found}; ` +
              `expected a column named like ${EMAIL_ALIASES.slice(0, 3).map((a) => JSON.stringify(a)).join(', ')} or "E-mail"`,
          );
        }
        summary.columns = columnNames(map);
        continue;
      }
      if (isBlank(record)) continue;

      summary.read += 1;
      const rawEmail = record[map.email] ?? '';
      const name =
        cleanName(fieldAt(record, map.name)) ??
        cleanName([fieldAt(record, map.firstName), fieldAt(record, map.lastName)].filter(Boolean).join(' '));
      const checked = checkEmail(rawEmail);
      if (!checked.ok) {
        summary.rejected += 1;
        if (report) await report.write({ line, email: rawEmail, name, reason: checked.reason });
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
        from_name: name,
        source: fixedSource ?? cleanName(fieldAt(record, map.source)) ?? defaultSource,
      };
      chunk.push(row);
      chunkBytes += checked.email.length + (name?.length ?? 0) * 3 + (row.source?.length ?? 0) * 3 + 48;
      if (chunk.length >= chunkSize || chunkBytes >= maxChunkBytes) await flush();
    }
    if (map === null) throw new ImportFileError(`${filePath} is empty: no header row`);
    await flush();
    if (inFlight) await inFlight;
    if (dbFailure) throw dbFailure;
  } catch (err) {
    input.destroy();
    if (inFlight) await inFlight;
    const e = err as Error & { code?: string; lines?: number };
    if (typeof e.code === 'string' && e.code.startsWith('CSV_')) {
      throw new ImportFileError(`${filePath} is not valid CSV: ${e.message}`, {
        cause: err,
        details: { line: e.lines },
      });
    }
    if (!(err instanceof AppError) && (e as NodeJS.ErrnoException).syscall) {
      throw new ImportFileError(`Cannot read ${filePath}: ${e.message}`, { cause: err });
    }
    throw err;
  } finally {
    if (report) await report.close();
  }

  if (report) summary.rejectedReportPath = options.rejectedReportPath;
  summary.durationMs = Date.now() - started;
  progress(true);
  return summary;
}
