import fs from 'node:fs';
import { once } from 'node:events';
import { csvCell } from '../csv';
import { ImportFileError } from './errors';

/**
 * The rejected-rows CSV: `line,email,name,reason`, UTF-8 with a BOM (so spreadsheet programs
 * read Cyrillic right), CRLF line ends, cells written by lib/csv.ts (RFC 4180 quoting, a cell
 * that a spreadsheet would run as a formula gets a leading apostrophe).
 */
export interface RejectedRow {
  line: number;
  email: string;
  name: string | null;
  reason: string;
}

export { csvCell };

export class RejectedReport {
  private constructor(private readonly out: fs.WriteStream) {}

  static async open(filePath: string): Promise<RejectedReport> {
    const out = fs.createWriteStream(filePath, { encoding: 'utf8' });
    try {
      await once(out, 'open');
    } catch (err) {
      throw new ImportFileError(`Cannot write the report ${filePath}: ${(err as Error).message}`, { cause: err });
    }
    const report = new RejectedReport(out);
    await report.writeLine('\uFEFFline,email,name,reason');
    return report;
  }

  private async writeLine(text: string): Promise<void> {
    if (!this.out.write(text + '\r\n')) await once(this.out, 'drain');
  }

  write(row: RejectedRow): Promise<void> {
    return this.writeLine([row.line, row.email, row.name, row.reason].map(csvCell).join(','));
  }

  async close(): Promise<void> {
    if (this.out.closed) return;
    await new Promise<void>((resolve, reject) => this.out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  }
}
