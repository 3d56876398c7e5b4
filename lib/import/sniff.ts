/**
 * Delimiter sniffing: comma, semicolon or tab, decided on the header line (counted outside
 * quotes), with the next lines of the sample breaking ties by consistency. Only these three:
 * a generic sniffer would pick "." or "@" in a one-column list of addresses.
 */
export type Delimiter = ',' | ';' | '\t';
const CANDIDATES: Delimiter[] = [',', ';', '\t'];

/** The logical lines (quoted newlines kept inside) of a sample, at most `max` non-blank ones. */
function logicalLines(sample: string, max: number): string[] {
  const lines: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < sample.length && lines.length < max; i++) {
    const c = sample[i];
    if (c === '"') quoted = !quoted;
    else if (!quoted && (c === '\n' || c === '\r')) {
      const line = sample.slice(start, i);
      if (line.trim() !== '') lines.push(line);
      start = i + 1;
    }
  }
  // The last line only counts if the sample is the whole file (no partial line): callers say.
  return lines;
}

function countOutsideQuotes(line: string, d: string): number {
  let n = 0;
  let quoted = false;
  for (const c of line) {
    if (c === '"') quoted = !quoted;
    else if (!quoted && c === d) n += 1;
  }
  return n;
}

/** `sample`: the start of the file as text (BOM removed); `complete`: the sample is the whole file. */
export function sniffDelimiter(sample: string, complete = false): Delimiter {
  const lines = logicalLines(complete ? sample + '\n' : sample, 20);
  const header = lines[0];
  if (header === undefined) return ',';
  let best: Delimiter = ',';
  let bestScore = -1;
  for (const d of CANDIDATES) {
    const inHeader = countOutsideQuotes(header, d);
    if (inHeader === 0) continue;
    // Lines that have the header's count of this delimiter (relaxed files may vary).
    const consistent = lines.slice(1).filter((l) => countOutsideQuotes(l, d) === inHeader).length;
    const score = inHeader * 1000 + consistent;
    if (score > bestScore) {
      best = d;
      bestScore = score;
    }
  }
  return best;
}
