import { ENCODING_NAMES } from './encoding';
import type { ImportProgress, ImportSummary } from './import';

const DELIMITER_NAMES: Record<string, string> = { ',': 'comma', ';': 'semicolon', '\t': 'tab' };

/** The end-of-import summary, one figure per line. */
export function formatSummary(s: ImportSummary): string {
  const cols = [`email=${JSON.stringify(s.columns.email)}`];
  if (s.columns.name) cols.push(`name=${JSON.stringify(s.columns.name)}`);
  if (s.columns.firstName) cols.push(`first name=${JSON.stringify(s.columns.firstName)}`);
  if (s.columns.lastName) cols.push(`last name=${JSON.stringify(s.columns.lastName)}`);
  if (s.columns.source) cols.push(`source=${JSON.stringify(s.columns.source)}`);
  const known = s.checkedAgainstDb;
  const n = (v: number) => (known ? String(v) : 'n/a (no database)');
  const rows: [string, string][] = [
    ['read', String(s.read)],
    [s.dryRun ? 'would insert' : 'inserted', n(s.inserted)],
    [s.dryRun ? 'would update' : 'updated', n(s.updated)],
    ['unchanged', n(s.unchanged)],
    ['rejected', String(s.rejected)],
    ['duplicates', String(s.duplicates)],
  ];
  if (!known) rows.push(['valid', String(s.valid)]);
  rows.push(['time', `${(s.durationMs / 1000).toFixed(1)} s`]);
  const inside = s.linesInsideFields ? ` + ${s.linesInsideFields} inside quoted fields` : '';
  const lines = [
    `${s.dryRun ? 'Dry run (nothing written)' : 'Import finished'}: ${s.file}`,
    `  ${'encoding'.padEnd(13)} ${ENCODING_NAMES[s.encoding]}`,
    `  ${'delimiter'.padEnd(13)} ${DELIMITER_NAMES[s.delimiter] ?? s.delimiter}; columns ${cols.join(', ')}`,
    `  ${'lines'.padEnd(13)} ${s.lines} = ${s.headerLines} header + ${s.read} rows${inside} + ${s.blankLines} blank`,
    ...rows.map(([k, v]) => `  ${k.padEnd(13)} ${v}`),
  ];
  if (s.rejectedReportPath) lines.push(`  rejected rows written to ${s.rejectedReportPath}`);
  return lines.join('\n');
}

/** A one-line progress bar for a terminal (rewritten in place with \r). */
export function progressBar(p: ImportProgress, width = 30): string {
  const ratio = p.totalBytes > 0 ? Math.min(1, p.bytesRead / p.totalBytes) : 1;
  const filled = Math.round(ratio * width);
  const pct = `${Math.floor(ratio * 100)}%`.padStart(4);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${pct}  ${p.read} read, ${p.written} written, ${p.rejected} rejected, ${p.duplicates} duplicates`;
}

/** A plain progress line (not a terminal). */
export function progressLine(p: ImportProgress): string {
  const ratio = p.totalBytes > 0 ? Math.min(1, p.bytesRead / p.totalBytes) : 1;
  return `progress ${Math.floor(ratio * 100)}%: ${p.read} read, ${p.written} written, ${p.rejected} rejected, ${p.duplicates} duplicates`;
}
