import { checkEmail, cleanName, mapColumns, normaliseHeader, sniffDelimiter } from '../../lib/import';
import { csvCell } from '../../lib/import/report';
import { loadDatabaseConfig } from '../../lib/config';

describe('checkEmail cleans an address and says why it is not one', () => {
  test.each([
    ['  Anna.Petrova@Example.COM  ', 'Anna.Petrova@example.com'],
    ['\uFEFFbom@example.com', 'bom@example.com'],
    ['zero\u200Bwidth@exam\u200Cple.org\u200D', 'zerowidth@example.org'],
    ['\u2060joiner@example.org\u00AD', 'joiner@example.org'],
    ['\u00A0nbsp@example.org\u00A0', 'nbsp@example.org'],
    ['mailto:Someone@Example.org', 'Someone@example.org'],
    ['<angle@example.org>', 'angle@example.org'],
    ["o'brien+tag@sub.example.co.uk", "o'brien+tag@sub.example.co.uk"],
    ['user@пример.рф', 'user@xn--e1afmkfd.xn--p1ai'],
    ['x@xn--e1afmkfd.xn--p1ai', 'x@xn--e1afmkfd.xn--p1ai'],
  ])('%j is accepted as %j', (raw, email) => {
    expect(checkEmail(raw)).toEqual({ ok: true, email });
  });

  test.each([
    ['', 'empty email'],
    ['   \u200B ', 'empty email'],
    ['no-at-sign.example.com', 'missing @'],
    ['two@@example.com', 'more than one @'],
    ['a@b@example.com', 'more than one @'],
    ['john smith@example.com', 'contains spaces'],
    ['john@exam ple.com', 'contains spaces'],
    ['@example.com', 'missing local part'],
    ['john@', 'missing domain'],
    ['john@localhost', 'invalid domain (no dot)'],
    ['john@example', 'invalid domain (no dot)'],
    ['john@-example.com', 'invalid domain'],
    ['john@example..com', 'invalid domain'],
    ['john@example.c', 'invalid domain'],
    ['john@example.123', 'invalid domain'],
    ['john@[127.0.0.1]', 'invalid domain'],
    ['john@exa_mple.com', 'invalid domain'],
    ['.john@example.com', 'invalid dots in local part'],
    ['john.@example.com', 'invalid dots in local part'],
    ['jo..hn@example.com', 'invalid dots in local part'],
    ['jo"hn@example.com', 'invalid character in local part'],
    ['иван@example.com', 'invalid character in local part'],
    ['a'.repeat(65) + '@example.com', 'local part longer than 64 characters'],
    ['a'.repeat(64) + '@' + 'b'.repeat(63) + '.' + 'c'.repeat(63) + '.' + 'd'.repeat(60) + '.com', 'address longer than 254 characters'],
  ])('%j is rejected: %s', (raw, reason) => {
    expect(checkEmail(raw)).toEqual({ ok: false, reason });
  });

  test('the longest valid address (254 characters) is accepted', () => {
    const email = 'a'.repeat(64) + '@' + 'b'.repeat(63) + '.' + 'c'.repeat(63) + '.' + 'd'.repeat(57) + '.com';
    expect(email).toHaveLength(254);
    expect(checkEmail(email)).toEqual({ ok: true, email });
  });
});

describe('cleanName', () => {
  test('collapses whitespace and newlines, strips invisible and control characters, keeps Cyrillic', () => {
    expect(cleanName('  Иван \r\n Петров\u200B ')).toBe('Иван Петров');
    expect(cleanName('A\u0000B\tC')).toBe('A B C');
    expect(cleanName('   ')).toBeNull();
    expect(cleanName(undefined)).toBeNull();
    // Nothing is cut silently: a long name is kept whole (only a Subject shortens it, with "…").
    expect(cleanName('x'.repeat(300))).toHaveLength(300);
  });
});

describe('columns are found by normalised header name', () => {
  test.each([
    [['email'], 0],
    [['Name', 'E-mail'], 1],
    [['\uFEFFEmail Address', 'name'], 0],
    [['id', 'EMAIL_ADDRESS'], 1],
    [['Имя', 'Электронная почта'], 1],
    [['mail', 'email'], 1],
  ])('%j: email is column %i', (header, index) => {
    expect(mapColumns(header)?.email).toBe(index);
  });

  test('name, first/last name and origin columns; extra columns ignored', () => {
    const m = mapColumns(['First Name', 'Last name', 'email', 'campaign', 'created_on', 'ip', 'city'])!;
    expect(m).toMatchObject({ email: 2, firstName: 0, lastName: 1, source: 3 });
    expect(m.name).toBeUndefined();
    expect(mapColumns(['name', 'email', 'List name'])).toMatchObject({ name: 0, source: 2 });
  });

  test('a header without an email column maps to null', () => {
    expect(mapColumns(['name', 'phone', 'emailing_status_x'])).toBeNull();
    expect(normaliseHeader(' E-Mail Address ')).toBe('emailaddress');
  });
});

describe('sniffDelimiter', () => {
  test.each([
    ['email,name\na@b.co,X\n', ','],
    ['email;name\na@b.co;X, Y\n', ';'],
    ['email\tname\ta\na@b.co\tX, Y; Z\tq\n', '\t'],
    ['"e,mail";name;list\n"a@b.co";"X, Y";L\n', ';'],
    ['email\na@b.co\n', ','],
    ['', ','],
  ])('%j -> %j', (sample, d) => {
    expect(sniffDelimiter(sample, true)).toBe(d);
  });
});

describe('rejected report cells', () => {
  test('quote delimiters, quotes and newlines; defuse spreadsheet formulas', () => {
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('x\ny')).toBe('"x\ny"');
    expect(csvCell('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
    expect(csvCell(null)).toBe('');
    expect(csvCell(12)).toBe('12');
  });
});

describe('the import and the report read only the database variables, by the executor\'s rule', () => {
  const KEY = 'service-role-key-0123456789';
  test('Supabase when both of its variables are set, else DATABASE_URL, else none', () => {
    expect(loadDatabaseConfig({ SUPABASE_URL: 'https://x.supabase.co', SUPABASE_SERVICE_ROLE_KEY: KEY, DATABASE_URL: 'postgres://h/db' })).toEqual({
      kind: 'supabase',
      url: 'https://x.supabase.co',
      serviceRoleKey: KEY,
    });
    expect(loadDatabaseConfig({ DATABASE_URL: 'postgres://h/db' })).toEqual({ kind: 'postgres', url: 'postgres://h/db' });
    expect(loadDatabaseConfig({ DATABASE_URL: '  ' })).toBeNull();
    expect(loadDatabaseConfig({})).toBeNull();
  });

  test('half a Supabase configuration, or a malformed DATABASE_URL, is refused naming what to set', () => {
    expect(() => loadDatabaseConfig({ SUPABASE_URL: 'https://x.supabase.co', DATABASE_URL: 'postgres://h/db' })).toThrow(
      /set both SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY \(only SUPABASE_URL is set\)/,
    );
    expect(() => loadDatabaseConfig({ DATABASE_URL: 'mysql://h/db' })).toThrow(/DATABASE_URL must be a postgres:\/\/ connection string/);
  });
});
