import fs from 'node:fs';
import path from 'node:path';
import type { AddressedRecipient, RenderedMailout } from '../../lib/letter/types';
import { renderMailout } from '../../lib/render';
import { recipientMessage, recipientMessageJson } from '../../lib/send/recipient-message';
import { LETTER } from '../../scripts/bench/send';

/**
 * The send loop's serialized message (`recipientMessageJson`, the letter serialized once per
 * run) is, for every recipient, byte for byte the JSON of `recipientMessage` (the one builder,
 * which the preview and the golden files check): nothing a recipient receives changes, and no
 * recipient's values (address, name, unsubscribe link, subscriber tag) reach another's copy.
 */
const ID = '11111111-2222-4333-8444-555555555555';
const config = { ses: { fromEmail: 'news@example.com', fromName: 'Новости / News', replyTo: 'editor@example.com', configurationSet: 'news' } };
const GOLDEN = fs.readFileSync(path.join(__dirname, '../content/golden/every-block.md'), 'utf8');

const letters: Record<string, RenderedMailout> = {
  golden: renderMailout({ subject: 'Новости проекта, {{name|друзья}}', markdown: GOLDEN, footerAddress: 'Москва, ул. Пушкина, 1', listName: 'Новости' }),
  bench: renderMailout({ subject: "This week's news", markdown: LETTER, footerAddress: 'Example Publishing, 1 Main St', viewUrl: 'https://m.example.com/api/view?id=1&sig=x' }),
  'no name, trimmed': renderMailout({ subject: 'Привет, {{name}}!', markdown: 'Привет, {{name}}! И ещё раз, {{ имя | друг }}.\n\n{{name}}{{name}}, {{unsubscribe_url}}' }),
  'name in the subject only': renderMailout({ subject: '{{name}}, "quoted" \\ back', markdown: 'No greeting. [Leave]({{unsubscribe_url}})' }),
};

const urlFor = (sid: string) => `https://mailout.example.com/api/unsubscribe?token=${sid.replace(/-/g, '')}.sig-${sid.slice(0, 4)}_x&a=1`;
const names: Array<string | null> = [
  'Анна',
  null,
  '',
  '   ',
  'Reader 7',
  'O\'Brien & "Sons" <b>',
  'back\\slash \u2028 line sep\u2029',
  'tab\there\nnewline\u0000nul',
  '😀 emoji first',
  'last emoji 😀',
  '\ud83d lone high',
  'lone low \ude00',
  '\ude00',
  '\ud83d',
  'Я'.repeat(150),
  'x'.repeat(99) + ' tail',
  '{{name}} {{unsubscribe_url}}',
  '  Иван   Петров  ',
];
const recipients: AddressedRecipient[] = names.map((name, i) => {
  const sid = `${String(i).padStart(8, '0')}-aaaa-4bbb-8ccc-${String(i).padStart(12, '0')}`;
  return { email: `Reader.${i}@Example.COM`, name, unsubscribeUrl: urlFor(sid), subscriberId: sid };
});

describe('recipientMessageJson', () => {
  it.each(Object.keys(letters))('%s: every recipient gets the bytes of JSON.stringify(recipientMessage(…))', (which) => {
    const letter = letters[which]!;
    const json = recipientMessageJson(config, letter, ID);
    for (const to of recipients) {
      const expected = Buffer.from(JSON.stringify(recipientMessage(config, letter, ID, to)), 'utf8');
      expect(json(to).equals(expected) ? 'same bytes' : json(to).toString('utf8')).toBe('same bytes');
    }
  });

  it('a test send (no subscriber id, [TEST], mode=test) is the same bytes too', () => {
    const letter = letters.golden!;
    const json = recipientMessageJson(config, letter, ID, { test: true });
    for (const { subscriberId: _, ...to } of recipients) {
      expect(json(to).equals(Buffer.from(JSON.stringify(recipientMessage(config, letter, ID, to, { test: true })), 'utf8'))).toBe(true);
    }
  });

  it("each copy carries its own recipient's values and none of another's, in any order", () => {
    const json = recipientMessageJson(config, letters.bench!, ID);
    const [a, b] = [recipients[0]!, recipients[4]!];
    const first = [json(a), json(b), json(a)].map((x) => JSON.parse(x.toString('utf8')) as Record<string, any>);
    const [ca, cb, ca2] = first as [Record<string, any>, Record<string, any>, Record<string, any>];
    expect(ca2).toEqual(ca);
    expect(ca.Destination.ToAddresses).toEqual(['Reader.0@example.com']);
    expect(cb.Destination.ToAddresses).toEqual(['Reader.4@example.com']);
    const text = (c: Record<string, any>) => JSON.stringify(c);
    expect(text(ca)).toContain(a.subscriberId);
    expect(text(ca)).not.toContain(b.subscriberId);
    expect(text(cb)).not.toContain(a.subscriberId);
    expect(text(ca)).toContain('Привет, Анна!');
    expect(text(cb)).toContain('Привет, Reader 7! Hello, Reader 7!');
    expect(text(cb)).not.toContain('Анна');
    expect(cb.Content.Simple.Headers[0]).toEqual({ Name: 'List-Unsubscribe', Value: `<${b.unsubscribeUrl}>` });
  });

  it('refuses what recipientMessage refuses, with the same error', () => {
    const json = recipientMessageJson(config, letters.bench!, ID);
    const errorOf = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return err;
      }
      throw new Error('no error');
    };
    for (const bad of [{ ...recipients[0]!, email: 'not an address' }, { ...recipients[0]!, unsubscribeUrl: 'http://example.com/u' }]) {
      expect(errorOf(() => json(bad))).toEqual(errorOf(() => recipientMessage(config, letters.bench!, ID, bad)));
    }
  });
});
