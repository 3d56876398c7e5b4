import { checkDataSourceRoles, ERROR_PROPERTIES, findRoles, MAILOUT_PROPERTIES, statusOption } from '../../lib/notion/schema';
import { dataSourceProperties } from '../../scripts/fakes/notion';

/** lib/notion/schema's role finder, as the reader, the write-back, setup and the doctor use it. */

describe('checkDataSourceRoles (for the doctor)', () => {
  test('a database setup made has every role, found by its marker', () => {
    const report = checkDataSourceRoles({ properties: dataSourceProperties(MAILOUT_PROPERTIES, 'ru') }, 'mailouts');
    expect(report.missing).toEqual([]);
    expect(report.lang).toBe('ru');
    expect(Object.values(report.found).every((p) => p!.by === 'marker')).toBe(true);
    expect(report.found.test).toMatchObject({ name: 'Тест', type: 'checkbox' });
  });

  test('names what is missing in the database\'s own language', () => {
    const ru = dataSourceProperties(ERROR_PROPERTIES.filter((s) => s.role !== 'code'), 'ru');
    expect(checkDataSourceRoles({ properties: ru }, 'errors').missing).toEqual([{ role: 'code', name: 'Код', type: 'rich_text' }]);
    const en = dataSourceProperties(ERROR_PROPERTIES.filter((s) => s.role !== 'code'), 'en');
    expect(checkDataSourceRoles({ properties: en }, 'errors').missing).toEqual([{ role: 'code', name: 'Code', type: 'rich_text' }]);
  });

  test('a marker wins over a name: a renamed Test checkbox beside a checkbox named "Test" is still the Test checkbox', () => {
    const props = dataSourceProperties(MAILOUT_PROPERTIES, 'en');
    props['Only me'] = { ...props.Test, name: 'Only me' };
    props.Test = { id: 'other', name: 'Test', type: 'checkbox', description: null, checkbox: {} };
    expect(findRoles(props, MAILOUT_PROPERTIES).found.test).toMatchObject({ id: props['Only me'].id, name: 'Only me', by: 'marker' });
  });

  test('without a marker, two unnamed checkboxes leave the Test role unfound rather than guessed', () => {
    const props = dataSourceProperties(MAILOUT_PROPERTIES.filter((s) => s.role !== 'test'), 'ru', { markers: false });
    props['Опубликовано'] = { id: 'a', name: 'Опубликовано', type: 'checkbox', description: null, checkbox: {} };
    props['В архиве'] = { id: 'b', name: 'В архиве', type: 'checkbox', description: null, checkbox: {} };
    expect(findRoles(props, MAILOUT_PROPERTIES).found.test).toBeUndefined();
    delete props['В архиве'];
    expect(findRoles(props, MAILOUT_PROPERTIES).found.test).toMatchObject({ name: 'Опубликовано', by: 'type' });
  });

  test('a wrongly typed property is not taken for its role', () => {
    const props = dataSourceProperties(MAILOUT_PROPERTIES, 'en', { markers: false });
    props.Sent = { id: 'sent', name: 'Sent', type: 'rich_text', description: null, rich_text: {} };
    expect(findRoles(props, MAILOUT_PROPERTIES).missing.map((m) => m.name)).toEqual(['Sent']);
  });
});

test('statusOption writes the option the database has, in either language, else one in its language', () => {
  expect(statusOption('sent', [{ name: 'Отправлено' }], 'en')).toBe('Отправлено');
  expect(statusOption('sent', [{ name: 'sent' }], 'ru')).toBe('sent');
  expect(statusOption('paused', [{ name: 'Отправлено' }], 'ru')).toBe('Пауза');
  expect(statusOption('paused', undefined, 'en')).toBe('Paused');
});
