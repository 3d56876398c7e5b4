import { importSubscribersFromFile } from '../../lib/import';
import { personalise, renderMailout, SUBJECT_NAME_MAX } from '../../lib/render/mailout';
import type { TestDatabase } from '../helpers/db';
import { STORED_LETTER } from '../helpers/db';
import { csv, importTestBed } from './fixtures';

/**
 * Nothing is cut silently. One rule for a name's length: it is kept whole, in the database
 * and in the letter; only the Subject, a header shown on one line, carries at most
 * SUBJECT_NAME_MAX characters of it and then ends it with "…".
 */
let t: TestDatabase;
const fx = importTestBed((db) => (t = db));

const LONG = `Александра ${'Константиновна-'.repeat(15)}Иванова`;

test('a 230-character name is imported whole and greets the reader whole; the Subject shortens it with an ellipsis', async () => {
  expect(LONG.length).toBeGreaterThan(220);
  const file = fx.write('long.csv', csv([['email', 'name'], ['sasha@example.com', LONG]]));
  const summary = await importSubscribersFromFile(t.db, file);
  expect(summary).toMatchObject({ inserted: 1, rejected: 0 });
  const { rows } = await t.pool.query(`select name from subscribers where email = 'sasha@example.com'`);
  expect(rows[0].name).toBe(LONG);

  // The name the send loop hands to the letter is the stored one.
  const claim = await t.ledger.claim('5d6e7f80-9a1b-4c2d-8e3f-405162738495', { leaseSeconds: 60, content: STORED_LETTER });
  const [recipient] = await t.ledger.run({ mailoutId: claim.mailoutId, leaseToken: claim.leaseToken!, leaseSeconds: 60 }).claimBatch({ limit: 10 });
  const letter = renderMailout({ markdown: 'Здравствуйте, {{name}}!', subject: 'Для вас, {{name}}', footerAddress: 'Москва' });
  const copy = personalise(letter, { unsubscribeUrl: 'https://mailout.example.com/api/unsubscribe?token=x', name: recipient!.name });
  expect(copy.text).toContain(`Здравствуйте, ${LONG}!`);
  expect(copy.html).toContain(LONG);
  const shown = copy.subject.slice('Для вас, '.length);
  expect(Array.from(shown)).toHaveLength(SUBJECT_NAME_MAX);
  expect(shown.endsWith('…')).toBe(true);
  expect(LONG.startsWith(shown.slice(0, -1))).toBe(true);
});

test('a name that fits the Subject is carried whole there too', () => {
  const letter = renderMailout({ markdown: 'Hi', subject: 'For {{name}}', footerAddress: 'Moscow' });
  expect(personalise(letter, { unsubscribeUrl: 'https://mailout.example.com/u', name: 'Анна Петрова' }).subject).toBe('For Анна Петрова');
});
