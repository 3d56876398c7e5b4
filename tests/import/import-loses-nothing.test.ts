import { formatSummary, importSubscribersFromFile, ImportFileError, type ImportSummary } from '../../lib/import';
import type { TestDatabase } from '../helpers/db';
import { importTestBed, readReport } from './fixtures';

/**
 * No valid row is lost without a word: a stray quote is refused with the line where it opened
 * (and nothing is written), a Windows-1251 (or KOI8-R) export is decoded, anything
 * undecodable is refused, U+FFFD never reaches the database, and the summary accounts for
 * every physical line.
 */
let t: TestDatabase;
const fx = importTestBed((db) => (t = db));

async function subscribers(): Promise<[string, string | null][]> {
  const { rows } = await t.pool.query('select email, name from subscribers order by lower(email)');
  return rows.map((r) => [r.email, r.name]);
}

/** A single-byte code page encoder built from Node's decoder (Node has no such encoder). */
function encode(text: string, encoding: 'windows-1251' | 'koi8-r' | 'latin1'): Buffer {
  if (encoding === 'latin1') return Buffer.from(text, 'latin1');
  const decoder = new TextDecoder(encoding);
  const table = new Map<string, number>();
  for (let b = 0x80; b <= 0xff; b++) table.set(decoder.decode(Uint8Array.of(b)), b);
  return Buffer.from(
    [...text].map((ch) => {
      if (ch.charCodeAt(0) < 0x80) return ch.charCodeAt(0);
      const b = table.get(ch);
      if (b === undefined) throw new Error(`${ch} is not in ${encoding}`);
      return b;
    }),
  );
}

function expectReconciled(s: ImportSummary): void {
  expect(s.headerLines + s.read + s.linesInsideFields + s.blankLines).toBe(s.lines);
  expect(s.valid + s.rejected + s.duplicates).toBe(s.read);
  if (s.checkedAgainstDb) expect(s.inserted + s.updated + s.unchanged).toBe(s.valid);
}

describe('a stray quote', () => {
  test('the issue\'s file: refused with the line where the quote opened, nothing imported', async () => {
    const file = fx.write('stray.csv', 'email,name\nc1@example.com,"Unclosed name\nc2@example.com,Dan\nc3@example.com,"Eve"\nc4@example.com,Fay\n');
    const err = await importSubscribersFromFile(t.db, file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImportFileError);
    expect((err as Error).message).toMatch(/quote opened on line 2 closes only on line 4/);
    expect((err as Error).message).toMatch(/c2@example\.com,Dan/);
    expect(await subscribers()).toEqual([]);
  });

  test('one that pairs with a later stray quote is refused too', async () => {
    const file = fx.write('stray-pair.csv', 'email,name\nc0@example.com,Ann\nc1@example.com,"Unclosed name\nc2@example.com,Dan\nc3@example.com,Eve"\nc4@example.com,Fay\n');
    const err = await importSubscribersFromFile(t.db, file).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/quote opened on line 3 closes only on line 5/);
    expect(await subscribers()).toEqual([]);
  });

  test('one never closed: refused with the line where it opened; a dry run says the same', async () => {
    const text = 'email,name\nok@example.com,Fine\nc1@example.com,"Never closed\nc2@example.com,x\n';
    for (const db of [t.db, null]) {
      const err = await importSubscribersFromFile(db, fx.write('unclosed.csv', text), { dryRun: db === null }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ImportFileError);
      expect((err as Error).message).toMatch(/not valid CSV: a quote opened on line 3 is never closed/);
    }
    const afterBlank = fx.write('unclosed-blank.csv', 'email,name\nok@example.com,Fine\n\n\nc1@example.com,"Never closed\nc2@example.com,x\n');
    expect(await importSubscribersFromFile(t.db, afterBlank).catch((e: Error) => e.message)).toMatch(/quote opened on line 5 is never closed/);
    expect(await subscribers()).toEqual([]);
  });

  test('a quoted field with line breaks but no address in it is a real multi-line field, and its lines are accounted for', async () => {
    const text = 'email,name,notes\r\na@example.com,Ann,"first\r\nsecond\r\nthird"\r\n\r\n   \r\nb@example.com,Bob,\r\n\r\n';
    const s = await importSubscribersFromFile(t.db, fx.write('multiline.csv', text));
    expect(s).toMatchObject({ lines: 8, headerLines: 1, read: 2, linesInsideFields: 2, blankLines: 3, inserted: 2 });
    expectReconciled(s);
    expect(formatSummary(s)).toContain('lines         8 = 1 header + 2 rows + 2 inside quoted fields + 3 blank');
  });
});

test('the summary reconciles lines, rows, inserted, updated, unchanged, rejected and duplicates (no final newline)', async () => {
  const text = ['', 'email;name', 'a@example.com;A', '', 'bad;B', 'A@example.com;dup', ';', 'c@example.com;"C\nD"'].join('\n');
  const s = await importSubscribersFromFile(t.db, fx.write('reconcile.csv', text));
  expect(s).toMatchObject({ lines: 9, headerLines: 1, read: 4, valid: 2, rejected: 1, duplicates: 1, inserted: 2, linesInsideFields: 1, blankLines: 3 });
  expectReconciled(s);
  const again = await importSubscribersFromFile(t.db, fx.write('reconcile.csv', text));
  expect(again).toMatchObject({ inserted: 0, unchanged: 2 });
  expectReconciled(again);
});

describe('encodings', () => {
  const ROWS = 'Email;Имя;Кампания\r\nivan@example.com;Иван Петров;Новости\r\nolga@example.com;Ольга Сидорова-Ёлкина, редактор;Новости\r\nmax@example.com;МАКСИМ;Новости\r\nlatin@example.com;John Smith;News\r\n';
  const EXPECTED: [string, string | null][] = [
    ['ivan@example.com', 'Иван Петров'],
    ['latin@example.com', 'John Smith'],
    ['max@example.com', 'МАКСИМ'],
    ['olga@example.com', 'Ольга Сидорова-Ёлкина, редактор'],
  ];

  test.each([
    ['windows-1251', 'Windows-1251'],
    ['koi8-r', 'KOI8-R'],
  ] as const)('a %s export is decoded: Cyrillic names and sources stored right, and the summary says so', async (encoding, name) => {
    const file = fx.write(`${encoding}.csv`, encode(ROWS, encoding));
    const s = await importSubscribersFromFile(t.db, file);
    expect(s).toMatchObject({ encoding, read: 4, inserted: 4, rejected: 0 });
    expect(s.columns).toEqual({ email: 'Email', name: 'Имя', source: 'Кампания' });
    expect(await subscribers()).toEqual(EXPECTED);
    const { rows } = await t.pool.query(`select distinct source from subscribers order by 1`);
    expect(rows.map((r) => r.source)).toEqual(['News', 'Новости']);
    expect(formatSummary(s)).toContain(`encoding      ${name} (Cyrillic), decoded to UTF-8`);
  });

  test('a UTF-8 file says UTF-8', async () => {
    const s = await importSubscribersFromFile(t.db, fx.write('utf8.csv', ROWS));
    expect(s.encoding).toBe('utf-8');
    expect(await subscribers()).toEqual(EXPECTED);
  });

  test('a Latin-1 file (not Cyrillic) is refused with the line of the first byte that is not UTF-8; nothing imported', async () => {
    const file = fx.write('latin1.csv', encode('email,name\nrene@example.com,Rene\nmuller@example.com,Jürgen Müller\nzoe@example.com,Zoë Séverine\n', 'latin1'));
    const err = await importSubscribersFromFile(t.db, file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImportFileError);
    expect((err as Error).message).toMatch(/is not UTF-8: line 3 holds text that is not valid UTF-8 \(byte 0xFC\)/);
    expect((err as Error).message).toMatch(/CSV UTF-8/);
    expect(await subscribers()).toEqual([]);
  });

  test('a UTF-8 file with one stray byte is refused, not read as Windows-1251', async () => {
    const utf8 = Buffer.from('email,name\nivan@example.com,Иван Петров\nolga@example.com,Ольга Сидорова\n');
    const file = fx.write('stray-byte.csv', Buffer.concat([utf8, Buffer.from('bad@example.com,Ан'), Buffer.from([0xe4]), Buffer.from('\n')]));
    const err = await importSubscribersFromFile(t.db, file).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/is not UTF-8: line 4/);
    expect(await subscribers()).toEqual([]);
  });

  test('binary junk and a NUL byte are refused', async () => {
    const junk = Buffer.alloc(4000);
    for (let i = 0; i < junk.length; i++) junk[i] = 0x80 + ((i * 73) % 128);
    const e1 = await importSubscribersFromFile(t.db, fx.write('junk.csv', Buffer.concat([Buffer.from('email\n'), junk]))).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(ImportFileError);
    const e2 = await importSubscribersFromFile(t.db, fx.write('nul.csv', Buffer.from('email\na@example.com\nb@exa\0mple.com\n'))).catch((e: unknown) => e);
    expect((e2 as Error).message).toMatch(/NUL byte on line 3/);
    expect(await subscribers()).toEqual([]);
  });
});

describe('U+FFFD never reaches the database', () => {
  test('a row whose name or source holds U+FFFD is rejected with a reason; the others are imported', async () => {
    const report = `${fx.dir}/fffd.rejected.csv`;
    const file = fx.write('fffd.csv', 'email,name,campaign\ngood@example.com,Анна,news\ndamaged@example.com,\uFFFD\uFFFD\uFFFD\uFFFD,news\nsrc@example.com,Ok,n\uFFFDws\n');
    const s = await importSubscribersFromFile(t.db, file, { rejectedReportPath: report });
    expect(s).toMatchObject({ read: 3, inserted: 1, rejected: 2 });
    expectReconciled(s);
    expect(await subscribers()).toEqual([['good@example.com', 'Анна']]);
    expect(readReport(report).map((r) => [r.line, r.email, r.reason!.slice(0, 16)])).toEqual([
      ['3', 'damaged@example.com', 'holds U+FFFD (\uFFFD)'],
      ['4', 'src@example.com', 'holds U+FFFD (\uFFFD)'],
    ]);
  });

  test('the database refuses it whatever writes (import_subscribers called directly)', async () => {
    await expect(
      t.db.rpc('import_subscribers', { p_rows: [{ email: 'x@example.com', name: 'Ан\uFFFDа', source: 'x' }], p_dry_run: false }),
    ).rejects.toThrow(/not_damaged/);
    await expect(t.pool.query(`insert into subscribers (email, source) values ('y@example.com', 'n' || chr(65533))`)).rejects.toThrow(/not_damaged/);
    expect(await subscribers()).toEqual([]);
  });
});

test('a row with more values than the header (an unquoted comma in a name) is rejected with the reason, not stored with half a name', async () => {
  const report = `${fx.dir}/extra.rejected.csv`;
  const file = fx.write('extra.csv', 'email,name\nsmith@example.com,Smith, John\ntrailing@example.com,Ann,,\n');
  const s = await importSubscribersFromFile(t.db, file, { rejectedReportPath: report });
  expect(s).toMatchObject({ read: 2, inserted: 1, rejected: 1 });
  expect(await subscribers()).toEqual([['trailing@example.com', 'Ann']]);
  expect(readReport(report)).toEqual([
    { line: '2', email: 'smith@example.com', name: 'Smith', reason: '3 values where the header has 2: an unquoted "," inside a value? Quote that value' },
  ]);
});

test('the rejected-rows file neutralises formulas after leading whitespace and in full-width form', async () => {
  const report = `${fx.dir}/formula.rejected.csv`;
  const file = fx.write('formula.csv', 'email,name\n =1+4,Space\n＝1+4,Wide\n\t=cmd,Tab\nok@example.com,＋Plus\n');
  await importSubscribersFromFile(t.db, file, { rejectedReportPath: report });
  expect(readReport(report).map((r) => r.email)).toEqual(["' =1+4", "'＝1+4", "'\t=cmd"]);
});
