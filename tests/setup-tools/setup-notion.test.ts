import { Client, LogLevel } from '@notionhq/client';
import { AppError } from '../../lib/errors';
import { ERROR_PROPERTIES, MAILOUT_PROPERTIES, type PropertySpec } from '../../lib/notion/schema';
import { parseNotionDatabaseId, parsePageReference } from '../../lib/mailout-id';
import { envLines, setupNotion } from '../../scripts/setup/notion';
import { FakeNotion, specSchema, type FakeSchema } from './fake-notion';

let fake: FakeNotion;
let notion: Client;

beforeEach(async () => {
  fake = new FakeNotion();
  const baseUrl = await fake.start();
  notion = new Client({ auth: fake.token, baseUrl, logLevel: LogLevel.ERROR, retry: false });
});

afterEach(async () => {
  await fake.stop();
});

const expectedSchema = (specs: PropertySpec[]): FakeSchema => specSchema(specs, 'en');

/** A schema as a database made before role markers has it (English names), minus some properties. */
function schemaWithout(specs: PropertySpec[], drop: string[]): FakeSchema {
  return specSchema(specs.filter((s) => !drop.includes(s.names.en)), 'en', { markers: false });
}

describe('setup:notion with --parent', () => {
  test('creates the Mailouts and Errors databases under the page with every property the executor reads and writes', async () => {
    const parent = fake.addPage();

    const result = await setupNotion(notion, { dryRun: false, lang: 'en', parentPageId: parent });

    expect(fake.calls()).toEqual([
      // the page's children, all three pages of the listing (page size 2, three filler blocks)
      `GET /v1/blocks/${parent}/children`,
      `GET /v1/blocks/${parent}/children`,
      'POST /v1/databases',
      'POST /v1/databases',
    ]);
    expect(fake.requests[1]!.query.start_cursor).toBe('2');
    const [createMailouts, createErrors] = fake.writes();
    expect(createMailouts!.body).toMatchObject({ parent: { type: 'page_id', page_id: parent }, title: [{ text: { content: 'Mailouts' } }] });
    expect(createErrors!.body).toMatchObject({ parent: { type: 'page_id', page_id: parent }, title: [{ text: { content: 'Errors' } }] });

    const under = fake.databasesUnder(parent);
    expect(under.map((d) => d.title).sort()).toEqual(['Errors', 'Mailouts']);
    const mailoutsId = under.find((d) => d.title === 'Mailouts')!.id;
    const errorsId = under.find((d) => d.title === 'Errors')!.id;
    expect(fake.schemaOf(mailoutsId)).toEqual(expectedSchema(MAILOUT_PROPERTIES));
    expect(fake.schemaOf(errorsId)).toEqual(expectedSchema(ERROR_PROPERTIES));

    expect(result.ok).toBe(true);
    expect(result.databases.mailouts).toMatchObject({ databaseId: mailoutsId, created: true, missing: [] });
    expect(result.databases.errors).toMatchObject({ databaseId: errorsId, created: true, missing: [] });
    expect(envLines(result)).toEqual([`NOTION_MAILOUTS_DATABASE_ID=${mailoutsId}`, `NOTION_ERRORS_DATABASE_ID=${errorsId}`]);
  });

  test('a second run on the same page finds both databases by title and changes nothing', async () => {
    const parent = fake.addPage();
    const first = await setupNotion(notion, { dryRun: false, lang: 'en', parentPageId: parent });
    fake.requests.length = 0;

    const second = await setupNotion(notion, { dryRun: false, lang: 'en', parentPageId: parent });

    expect(fake.writes()).toEqual([]);
    expect(fake.calls()).toEqual(
      expect.arrayContaining([
        `GET /v1/databases/${first.databases.mailouts.databaseId}`,
        `GET /v1/data_sources/${first.databases.mailouts.dataSourceId}`,
        `GET /v1/databases/${first.databases.errors.databaseId}`,
        `GET /v1/data_sources/${first.databases.errors.dataSourceId}`,
      ]),
    );
    expect(fake.databasesUnder(parent)).toHaveLength(2);
    expect(second.ok).toBe(true);
    expect(second.databases.mailouts).toMatchObject({ databaseId: first.databases.mailouts.databaseId, created: false, missing: [], wrongType: [] });
    expect(second.databases.errors).toMatchObject({ databaseId: first.databases.errors.databaseId, created: false, missing: [], wrongType: [] });
    expect(second.steps.filter((s) => s.kind === 'create' || s.kind === 'update')).toEqual([]);
    expect(envLines(second)).toEqual(envLines(first));
  });

  test('--dry-run on an empty page writes nothing and lists the databases and properties it would create', async () => {
    const parent = fake.addPage();

    const result = await setupNotion(notion, { dryRun: true, lang: 'en', parentPageId: parent });

    expect(fake.writes()).toEqual([]);
    expect(fake.databasesUnder(parent)).toEqual([]);
    const creates = result.steps.filter((s) => s.kind === 'create');
    expect(creates).toHaveLength(2);
    expect(creates.every((s) => !s.applied)).toBe(true);
    expect(creates[0]!.message).toMatch(/would create database "Mailouts"/);
    for (const spec of MAILOUT_PROPERTIES) expect(creates[0]!.message).toContain(`"${spec.names.en}" (${spec.type}`);
    for (const spec of ERROR_PROPERTIES) expect(creates[1]!.message).toContain(`"${spec.names.en}" (${spec.type}`);
    expect(envLines(result)[0]).toMatch(/^NOTION_MAILOUTS_DATABASE_ID=<created on a run without --dry-run>$/);
  });

  test('creates only the missing database when the page already has one of them', async () => {
    const parent = fake.addPage();
    const existing = fake.addDatabase(parent, 'Errors', expectedSchema(ERROR_PROPERTIES));

    const result = await setupNotion(notion, { dryRun: false, lang: 'en', parentPageId: parent });

    expect(fake.writes().map((w) => `${w.method} ${w.path}`)).toEqual(['POST /v1/databases']);
    expect(fake.writes()[0]!.body).toMatchObject({ title: [{ text: { content: 'Mailouts' } }] });
    expect(result.databases.errors).toMatchObject({ databaseId: existing.databaseId, created: false });
    expect(result.databases.mailouts.created).toBe(true);
  });

  test('a page not shared with the integration fails with a message that says to share it', async () => {
    const missing = '0123456789abcdef0123456789abcdef';
    const err = await setupNotion(notion, { dryRun: false, parentPageId: parsePageReference(missing)! }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).message).toMatch(/Share the page .* with the integration/);
    expect(fake.writes()).toEqual([]);
  });
});

describe('setup:notion checking existing databases', () => {
  test('names missing properties, wrong types and missing select options; adds what it can in one data source update', async () => {
    const parent = fake.addPage();
    const mailouts = fake.addDatabase(parent, 'Newsletter', {
      ...schemaWithout(MAILOUT_PROPERTIES, ['Preheader', 'Complaints', 'Report', 'Status', 'Recipients']),
      Status: { type: 'select', options: ['Draft', 'Ready', 'Sent'] },
      Recipients: { type: 'rich_text' },
    });
    const errors = fake.addDatabase(parent, 'Send errors', {
      ...schemaWithout(ERROR_PROPERTIES, ['Email', 'At']),
      Title: { type: 'title' },
    });

    const result = await setupNotion(notion, { dryRun: false, mailoutsDatabaseId: mailouts.databaseId, errorsDatabaseId: errors.databaseId });

    expect(result.databases.mailouts.missing).toEqual(['Preheader', 'Complaints', 'Report']);
    expect(result.databases.mailouts.wrongType).toEqual([{ name: 'Recipients', expected: 'number', actual: 'rich_text' }]);
    expect(result.databases.mailouts.missingOptions).toEqual([{ name: 'Status', options: ['Sending', 'Paused', 'Failed'] }]);
    expect(result.databases.errors.missing).toEqual(['At']);
    // The user's title keeps its name; its role is recorded in its description.
    expect(result.databases.errors.marked).toContain('Title');
    expect(result.ok).toBe(false);
    const problems = result.steps.filter((s) => s.kind === 'problem').map((s) => s.message);
    expect(problems).toEqual([expect.stringMatching(/"Mailouts"\."Recipients" is a rich_text property; the executor needs number/)]);
    expect(result.steps.map((s) => s.message)).toContain('"Mailouts" is missing "Preheader", "Complaints", "Report"');

    expect(fake.calls()).toEqual([
      `GET /v1/databases/${mailouts.databaseId}`,
      `GET /v1/data_sources/${mailouts.dataSourceId}`,
      `PATCH /v1/data_sources/${mailouts.dataSourceId}`,
      `GET /v1/databases/${errors.databaseId}`,
      `GET /v1/data_sources/${errors.dataSourceId}`,
      `PATCH /v1/data_sources/${errors.dataSourceId}`,
    ]);
    // The wrongly typed property is reported, never converted.
    const mailoutsPatch = fake.writes()[0]!.body as { properties: Record<string, unknown> };
    expect(Object.keys(mailoutsPatch.properties)).not.toContain('Recipients');

    const fixedMailouts = fake.schemaOf(mailouts.databaseId);
    for (const name of ['Preheader', 'Complaints', 'Report']) {
      expect(fixedMailouts[name]).toEqual(expectedSchema(MAILOUT_PROPERTIES)[name]);
    }
    expect(fixedMailouts.Status!.options).toEqual(['Draft', 'Ready', 'Sent', 'Sending', 'Paused', 'Failed']);
    expect(fixedMailouts.Recipients).toEqual({ type: 'rich_text' });
    const { Email, ...errorsRest } = expectedSchema(ERROR_PROPERTIES);
    expect(fake.schemaOf(errors.databaseId)).toEqual({ ...errorsRest, Title: Email });

    // A second check finds nothing left to add; only the type problem remains.
    fake.requests.length = 0;
    const again = await setupNotion(notion, { dryRun: false, mailoutsDatabaseId: mailouts.databaseId, errorsDatabaseId: errors.databaseId });
    expect(fake.writes()).toEqual([]);
    expect(again.databases.mailouts.missing).toEqual([]);
    expect(again.databases.errors.missing).toEqual([]);
    expect(again.databases.mailouts.wrongType).toHaveLength(1);
    expect(again.ok).toBe(false);
  });

  test('--dry-run reports the missing properties by name and makes no write call', async () => {
    const parent = fake.addPage();
    const mailouts = fake.addDatabase(parent, 'Mailouts', schemaWithout(MAILOUT_PROPERTIES, ['Sent at', 'Unknown']));
    const errors = fake.addDatabase(parent, 'Errors', schemaWithout(ERROR_PROPERTIES, ['Code']));
    const before = [fake.schemaOf(mailouts.databaseId), fake.schemaOf(errors.databaseId)];

    const result = await setupNotion(notion, { dryRun: true, mailoutsDatabaseId: mailouts.databaseId, errorsDatabaseId: errors.databaseId });

    expect(fake.writes()).toEqual([]);
    expect(fake.requests.every((r) => r.method === 'GET')).toBe(true);
    expect([fake.schemaOf(mailouts.databaseId), fake.schemaOf(errors.databaseId)]).toEqual(before);
    expect(result.databases.mailouts.missing).toEqual(['Sent at', 'Unknown']);
    expect(result.databases.errors.missing).toEqual(['Code']);
    const messages = result.steps.map((s) => s.message);
    expect(messages).toContain('would add "Sent at" (date) on "Mailouts"');
    expect(messages).toContain('would add "Unknown" (number) on "Mailouts"');
    expect(messages).toContain('would add "Code" (rich_text) on "Errors"');
    expect(result.steps.every((s) => !s.applied)).toBe(true);
    // Fixable by a real run: not a failed check.
    expect(result.ok).toBe(true);
  });

  test('accepts a status property named Status, and warns about status options it cannot add', async () => {
    const parent = fake.addPage();
    // Roles already recorded (a database setup made), so only the status options are at stake.
    const { Status: select, ...rest } = expectedSchema(MAILOUT_PROPERTIES);
    const mailouts = fake.addDatabase(parent, 'Mailouts', {
      ...rest,
      Status: { type: 'status', options: ['Draft', 'Ready', 'Test sent', 'Sending', 'Sent', 'Paused'], description: select!.description! },
    });
    const errors = fake.addDatabase(parent, 'Errors', expectedSchema(ERROR_PROPERTIES));

    const result = await setupNotion(notion, { dryRun: false, mailoutsDatabaseId: mailouts.databaseId, errorsDatabaseId: errors.databaseId });

    expect(fake.writes()).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.databases.mailouts.wrongType).toEqual([]);
    expect(result.steps).toContainEqual(
      expect.objectContaining({ kind: 'warning', message: expect.stringContaining('status property without the options "Failed"') }),
    );
  });
});

describe("setup's --parent and --mailouts/--errors, read by lib/mailout-id.ts", () => {
  const id = '1f2e3d4c-5b6a-4978-8877-665544332211';
  const bare = id.replace(/-/g, '');
  const other = '0123456789abcdef0123456789abcdef';
  const view = 'fedcba9876543210fedcba9876543210';

  test.each([['page', parsePageReference], ['database', parseNotionDatabaseId]] as const)(
    'a %s: bare ids, dashed ids and notion.so URLs are read, anything else is refused',
    (_kind, parse) => {
      expect(parse(id)).toBe(id);
      expect(parse(bare)).toBe(id);
      expect(parse(`https://www.notion.so/acme/Newsletter-${bare}?pvs=4`)).toBe(id);
      expect(parse(`https://www.notion.so/${bare}`)).toBe(id);
      expect(parse('not a page')).toBeNull();
      expect(parse('')).toBeNull();
    },
  );

  // Forms the SDK's extractNotionId took that are not a link Notion gives: any host, its own
  // ?page_id= / ?database_id= parameters, 32 hex digits anywhere in a text. A pasted link
  // from elsewhere is a mistake to name, not an id to guess.
  test.each([
    `https://evil.example.com/Title-${bare}`,
    `https://www.notion.so/acme?page_id=${bare}`,
    `https://www.notion.so/acme?database_id=${bare}`,
    `id: ${bare}`,
  ])('refuses %s as a page and as a database', (input) => {
    expect(parsePageReference(input)).toBeNull();
    expect(parseNotionDatabaseId(input)).toBeNull();
  });

  test('a database view link is a database, never a --parent page; a page open over a database (?p=) is that page', () => {
    // The SDK read the view link's database as the parent page, and the peek link's database too.
    expect(parsePageReference(`https://www.notion.so/acme/${other}?v=${view}`)).toBeNull();
    expect(parseNotionDatabaseId(`https://www.notion.so/acme/${other}?v=${view}`)).toBe('01234567-89ab-cdef-0123-456789abcdef');
    expect(parsePageReference(`https://www.notion.so/acme/${other}?v=${view}&p=${bare}&pm=s`)).toBe(id);
    expect(parseNotionDatabaseId(`https://www.notion.so/acme/${other}?v=${view}&p=${bare}&pm=s`)).toBe('01234567-89ab-cdef-0123-456789abcdef');
  });
});

describe('setup:notion in Russian, and after renames', () => {
  test('--lang ru (the default) creates «Письма» and «Ошибки» with Russian property names, statuses and role markers', async () => {
    const parent = fake.addPage();

    const result = await setupNotion(notion, { dryRun: false, parentPageId: parent });

    const under = fake.databasesUnder(parent);
    expect(under.map((d) => d.title).sort()).toEqual(['Ошибки', 'Письма']);
    const mailouts = fake.schemaOf(under.find((d) => d.title === 'Письма')!.id);
    expect(mailouts).toEqual(specSchema(MAILOUT_PROPERTIES, 'ru'));
    expect(mailouts['Тест']).toEqual({ type: 'checkbox', description: 'Отмечено: письмо уходит только на TEST_EMAILS. [mailout:test]' });
    expect(mailouts['Статус']!.options).toEqual(['Черновик', 'Готово', 'Отправляется', 'Отправлено', 'Пауза', 'Ошибка']);
    expect(fake.schemaOf(under.find((d) => d.title === 'Ошибки')!.id)).toEqual(specSchema(ERROR_PROPERTIES, 'ru'));
    expect(result.ok).toBe(true);
  });

  test('a second run finds databases and properties the user renamed, and changes nothing', async () => {
    const parent = fake.addPage();
    const first = await setupNotion(notion, { dryRun: false, parentPageId: parent });
    const dsId = first.databases.mailouts.dataSourceId!;
    await notion.dataSources.update({ data_source_id: dsId, properties: { 'Тест': { name: 'Проверка' }, 'Статус': { name: 'Этап' } } } as never);
    fake.requests.length = 0;

    const second = await setupNotion(notion, { dryRun: false, mailoutsDatabaseId: first.databases.mailouts.databaseId!, errorsDatabaseId: first.databases.errors.databaseId! });

    expect(fake.writes()).toEqual([]);
    expect(second.databases.mailouts).toMatchObject({ missing: [], wrongType: [], marked: [] });
    expect(second.ok).toBe(true);
  });

  test('a database made before role markers gets them, each on the property found by its name', async () => {
    const parent = fake.addPage();
    const mailouts = fake.addDatabase(parent, 'Письма', specSchema(MAILOUT_PROPERTIES, 'ru', { markers: false }));
    const errors = fake.addDatabase(parent, 'Ошибки', specSchema(ERROR_PROPERTIES, 'ru', { markers: false }));

    const result = await setupNotion(notion, { dryRun: false, mailoutsDatabaseId: mailouts.databaseId, errorsDatabaseId: errors.databaseId });

    expect(result.databases.mailouts.marked).toHaveLength(MAILOUT_PROPERTIES.length);
    expect(fake.schemaOf(mailouts.databaseId)).toEqual(specSchema(MAILOUT_PROPERTIES, 'ru'));
    expect(fake.schemaOf(errors.databaseId)).toEqual(specSchema(ERROR_PROPERTIES, 'ru'));
    expect(result.steps.map((s) => s.message)).toContain('recorded the role of "Тест" (test) in its description on "Письма"');
  });

  test('a missing property is named in the database\'s own language', async () => {
    const parent = fake.addPage();
    const mailouts = fake.addDatabase(parent, 'Письма', specSchema(MAILOUT_PROPERTIES.filter((s) => s.role !== 'preheader'), 'ru'));
    const errors = fake.addDatabase(parent, 'Ошибки', specSchema(ERROR_PROPERTIES, 'ru'));

    const result = await setupNotion(notion, { dryRun: true, mailoutsDatabaseId: mailouts.databaseId, errorsDatabaseId: errors.databaseId });

    expect(result.databases.mailouts.missing).toEqual(['Прехедер']);
    expect(result.steps.map((s) => s.message)).toContain('"Письма" is missing "Прехедер"');
  });
});
