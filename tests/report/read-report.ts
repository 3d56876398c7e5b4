import type { Db } from '../../lib/db';
import { createLedger } from '../../lib/db/ledger';
import { openMailoutReport } from '../../lib/report';

/** The whole report CSV of a mailout as one string (the BOM included), and its row count. */
export async function readReport(db: Db, mailoutId: string, pageRows?: number): Promise<{ csv: string; rows: number }> {
  const report = await openMailoutReport(createLedger(db), mailoutId, pageRows);
  let csv = '';
  for await (const chunk of report.chunks) csv += chunk;
  return { csv, rows: report.rows() };
}
