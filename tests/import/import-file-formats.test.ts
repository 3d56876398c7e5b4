import fs from 'node:fs';
import { importSubscribersFromFile, ImportFileError, type ImportProgress } from '../../lib/import';
import type { TestDatabase } from '../helpers/db';
import { csv, importTestBed, readReport } from './fixtures';

let t: TestDatabase;
const fx = importTestBed((db) => (t = db));

async function subscribers(): Promise<{ email: string; name: string | null; status: string; source: string | null }[]> {
  const { rows } = await t.pool.query('select email, name, status, source from subscribers order by lower(email)');
  return rows;
}

const ROWS = [
  ['Email', 'Name', 'Campaign', 'Created on', 'IP'],
  ['anna@example.com', 'Anna Petrova', 'news_ru', '2024-01-02', '10.0.0.1'],
  ['boris@example.org', 'Борис Иванов', 'news_ru', '2024-01-03', '10.0.0.2'],
  ['carl@example.net', '', 'weekly', '2024-01-04', ''],
];

test.each([
  ['comma', ','],
  ['semicolon', ';'],
  ['tab', '\t'],
])('a %s-separated export is imported: addresses, names and campaign as source', async (label, d) => {
  const file = fx.write(`simple-${label}.csv`, csv(ROWS, d));
  const s = await importSubscribersFromFile(t.db, file);
  expect(s).toMatchObject({ delimiter: d, read: 3, valid: 3, inserted: 3, updated: 0, unchanged: 0, rejected: 0, duplicates: 0 });
  expect(s.columns).toEqual({ email: 'Email', name: 'Name', source: 'Campaign' });
  expect(await subscribers()).toEqual([
    { email: 'anna@example.com', name: 'Anna Petrova', status: 'active', source: 'news_ru' },
    { email: 'boris@example.org', name: 'Борис Иванов', status: 'active', source: 'news_ru' },
    { email: 'carl@example.net', name: null, status: 'active', source: 'weekly' },
  ]);
});

test('UTF-8 BOM, CRLF line ends, quoted fields holding delimiters, quotes and newlines, Cyrillic names', async () => {
  const text =
    '\uFEFF"E-mail";"First name";"Last name";"List name";"Custom ""notes"""\r\n' +
    '"ivan@example.com";"Иван";"Петров; младший";"Рассылка";"a;b\r\nc"\r\n' +
    'olga@example.com;"Ольга ""Оля""";Сидорова;Рассылка;\r\n' +
    '"multi@example.com";"Line\r\nbreak";"Name";"x";"1"\r\n' +
    'bad-address;Плохой;Адрес;Рассылка;\r\n';
  const file = fx.write('bom-crlf.csv', text);
  const report = `${fx.dir}/bom-crlf.rejected.csv`;
  const s = await importSubscribersFromFile(t.db, file, { rejectedReportPath: report });
  expect(s).toMatchObject({ delimiter: ';', read: 4, inserted: 3, rejected: 1 });
  expect(s.columns).toEqual({ email: 'E-mail', firstName: 'First name', lastName: 'Last name', source: 'List name' });
  expect(await subscribers()).toEqual([
    { email: 'ivan@example.com', name: 'Иван Петров; младший', status: 'active', source: 'Рассылка' },
    { email: 'multi@example.com', name: 'Line break Name', status: 'active', source: 'x' },
    { email: 'olga@example.com', name: 'Ольга "Оля" Сидорова', status: 'active', source: 'Рассылка' },
  ]);
  // Line numbers count physical lines: the header is 1, the quoted CRLFs take lines 3 and 6.
  expect(readReport(report)).toEqual([{ line: '7', email: 'bad-address', name: 'Плохой Адрес', reason: 'missing @' }]);
});

test('mixed-case duplicates are imported once (the first spelling wins) and counted', async () => {
  const file = fx.write(
    'dups.csv',
    csv([
      ['email', 'name'],
      ['Mixed.Case@Example.com', 'First'],
      ['mixed.case@example.COM', 'Second'],
      ['MIXED.CASE@EXAMPLE.COM', ''],
      ['\u200Bmixed.case@example.com ', 'Third'],
      ['other@example.com', 'Other'],
    ]),
  );
  const s = await importSubscribersFromFile(t.db, file);
  expect(s).toMatchObject({ read: 5, valid: 2, inserted: 2, duplicates: 3, rejected: 0 });
  expect((await subscribers()).map((r) => [r.email, r.name])).toEqual([
    ['Mixed.Case@example.com', 'First'],
    ['other@example.com', 'Other'],
  ]);
});

test('invalid addresses are rejected with their line number and reason; blank lines are skipped, not counted', async () => {
  const text = [
    'email,name',
    '',
    'good@example.com,Good',
    'no-at-sign.example.com,A',
    '   ',
    ',,',
    'john smith@example.com,B',
    ',Nameless',
    'x@localhost,C',
    'two@@example.com,D',
    '',
    '',
    'fine@example.org,Fine',
    '',
  ].join('\n');
  const file = fx.write('invalid.csv', text);
  const report = `${fx.dir}/invalid.rejected.csv`;
  const s = await importSubscribersFromFile(t.db, file, { rejectedReportPath: report });
  expect(s).toMatchObject({ read: 7, inserted: 2, rejected: 5, duplicates: 0, rejectedReportPath: report });
  expect(readReport(report)).toEqual([
    { line: '4', email: 'no-at-sign.example.com', name: 'A', reason: 'missing @' },
    { line: '7', email: 'john smith@example.com', name: 'B', reason: 'contains spaces' },
    { line: '8', email: '', name: 'Nameless', reason: 'empty email' },
    { line: '9', email: 'x@localhost', name: 'C', reason: 'invalid domain (no dot)' },
    { line: '10', email: 'two@@example.com', name: 'D', reason: 'more than one @' },
  ]);
  expect((await subscribers()).map((r) => r.email)).toEqual(['fine@example.org', 'good@example.com']);
});

test('a header-only file imports nothing and is not an error', async () => {
  const file = fx.write('header-only.csv', '\uFEFFEmail;Name;Campaign\r\n');
  const s = await importSubscribersFromFile(t.db, file);
  expect(s).toMatchObject({ read: 0, inserted: 0, updated: 0, unchanged: 0, rejected: 0, duplicates: 0 });
  expect(await subscribers()).toEqual([]);
});

test('a file with no email column fails with a clear error naming the columns it has', async () => {
  const file = fx.write('no-email.csv', csv([['name', 'phone'], ['Anna', '123']]));
  const err = await importSubscribersFromFile(t.db, file).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ImportFileError);
  expect((err as Error).message).toMatch(/No email column/);
  expect((err as Error).message).toMatch(/"name", "phone"/);
  expect(await subscribers()).toEqual([]);
});

test('a missing file, an empty file, a UTF-16 file and an unclosed quote are file errors', async () => {
  const missing = await importSubscribersFromFile(t.db, `${fx.dir}/does-not-exist.csv`).catch((e: unknown) => e);
  expect(missing).toBeInstanceOf(ImportFileError);
  expect((missing as Error).message).toMatch(/no such file/);

  const empty = await importSubscribersFromFile(t.db, fx.write('empty.csv', '')).catch((e: unknown) => e);
  expect(empty).toBeInstanceOf(ImportFileError);
  expect((empty as Error).message).toMatch(/empty/);

  const utf16 = fx.write('utf16.csv', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('email\na@b.co\n', 'utf16le')]));
  const u = await importSubscribersFromFile(t.db, utf16).catch((e: unknown) => e);
  expect(u).toBeInstanceOf(ImportFileError);
  expect((u as Error).message).toMatch(/UTF-16/);

  const unclosed = fx.write('unclosed.csv', 'email,name\nok@example.com,"Never closed\nnext@example.com,x\n');
  const q = await importSubscribersFromFile(t.db, unclosed).catch((e: unknown) => e);
  expect(q).toBeInstanceOf(ImportFileError);
  expect((q as Error).message).toMatch(/not valid CSV/);
});

test('a single-column list of addresses with dots and @ is read as one column', async () => {
  const file = fx.write('one-column.csv', 'e-mail\r\nfirst.last@mail.example.com\r\nsecond@example.com\r\n');
  const s = await importSubscribersFromFile(t.db, file, { source: 'manual' });
  expect(s).toMatchObject({ delimiter: ',', inserted: 2 });
  expect((await subscribers()).map((r) => [r.email, r.source])).toEqual([
    ['first.last@mail.example.com', 'manual'],
    ['second@example.com', 'manual'],
  ]);
});

test('--source overrides the campaign column; without either, the file name is the source', async () => {
  const a = fx.write('with-campaign.csv', csv([['email', 'campaign'], ['a@example.com', 'camp']]));
  await importSubscribersFromFile(t.db, a, { source: 'getresponse-2024' });
  const b = fx.write('plain-list.csv', csv([['email'], ['b@example.com']]));
  await importSubscribersFromFile(t.db, b);
  expect((await subscribers()).map((r) => [r.email, r.source])).toEqual([
    ['a@example.com', 'getresponse-2024'],
    ['b@example.com', 'import:plain-list.csv'],
  ]);
});

test('a large file goes in several chunks, with progress reported up to the whole file', async () => {
  const rows = [['email', 'name']];
  for (let i = 0; i < 2500; i++) rows.push([`user${i}@example.com`, `Пользователь ${i}`]);
  rows.push(['USER7@example.com', 'dup']);
  const file = fx.write('chunks.csv', csv(rows));
  const seen: ImportProgress[] = [];
  const s = await importSubscribersFromFile(t.db, file, { chunkSize: 300, onProgress: (p) => seen.push({ ...p }) });
  expect(s).toMatchObject({ read: 2501, inserted: 2500, duplicates: 1 });
  expect(seen.length).toBeGreaterThanOrEqual(9);
  const last = seen[seen.length - 1]!;
  expect(last).toMatchObject({ done: true, read: 2501, written: 2500, bytesRead: fs.statSync(file).size, totalBytes: fs.statSync(file).size });
  for (let i = 1; i < seen.length; i++) expect(seen[i]!.written).toBeGreaterThanOrEqual(seen[i - 1]!.written);
  const { rows: n } = await t.pool.query('select count(*)::int as n from subscribers');
  expect(n[0].n).toBe(2500);
});
