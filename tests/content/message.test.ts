import { simpleParser } from 'mailparser';
import { buildEml, buildSendEmailInput, encodeWord, formatAddress, sesTagValue } from '../../lib/message';
import { personalise, renderMailout } from '../../lib/render';

const UNSUB = 'https://mail.example.com/api/unsubscribe?token=abc.def';

function message(extra: Partial<Parameters<typeof buildSendEmailInput>[0]> = {}) {
  const rendered = renderMailout({ markdown: 'Привет, {{name}}! Смотрите [сайт](https://example.com).', subject: 'Новости 🎉 ноября', preheader: 'Коротко' });
  const copy = personalise(rendered, { unsubscribeUrl: UNSUB, name: 'Анна' });
  return {
    from: { email: 'news@example.com', name: 'Журнал «Пример»' },
    replyTo: 'editor@example.com',
    to: 'anna@example.org',
    subject: copy.subject,
    html: copy.html,
    text: copy.text,
    unsubscribeUrl: UNSUB,
    mailoutId: '1429989f-e8ac-4eff-bc8f-57f56486db54',
    ...extra,
  };
}

describe('buildSendEmailInput', () => {
  it('builds SESv2 simple content with UTF-8 parts, list headers, tags and the configuration set', () => {
    const input = buildSendEmailInput(message({ configurationSet: 'newsletter-events' }));
    expect(input.FromEmailAddress).toBe(`${encodeWord('Журнал «Пример»')} <news@example.com>`);
    expect(input.Destination).toEqual({ ToAddresses: ['anna@example.org'] });
    expect(input.ReplyToAddresses).toEqual(['editor@example.com']);
    const simple = input.Content!.Simple!;
    expect(simple.Subject).toEqual({ Data: 'Новости 🎉 ноября', Charset: 'UTF-8' });
    expect(simple.Body!.Html!.Charset).toBe('UTF-8');
    expect(simple.Body!.Html!.Data).toContain('Привет, Анна!');
    expect(simple.Body!.Text!.Data).toContain('Привет, Анна! Смотрите сайт (https://example.com).');
    expect(simple.Headers).toEqual([
      { Name: 'List-Unsubscribe', Value: `<${UNSUB}>` },
      { Name: 'List-Unsubscribe-Post', Value: 'List-Unsubscribe=One-Click' },
      { Name: 'Precedence', Value: 'bulk' },
      { Name: 'X-Mailout-Id', Value: '1429989f-e8ac-4eff-bc8f-57f56486db54' },
    ]);
    expect(input.EmailTags).toEqual([
      { Name: 'mailout_id', Value: '1429989f-e8ac-4eff-bc8f-57f56486db54' },
      { Name: 'mode', Value: 'live' },
    ]);
    expect(input.ConfigurationSetName).toBe('newsletter-events');
  });

  it('omits what is not configured and marks test sends', () => {
    const input = buildSendEmailInput(message({ replyTo: undefined, from: { email: 'news@example.com' }, test: true }));
    expect(input.FromEmailAddress).toBe('news@example.com');
    expect(input).not.toHaveProperty('ReplyToAddresses');
    expect(input).not.toHaveProperty('ConfigurationSetName');
    expect(input.EmailTags).toContainEqual({ Name: 'mode', Value: 'test' });
  });

  it('keeps tag values to the characters SES accepts', () => {
    expect(sesTagValue('mailout: ноябрь/2024 #1')).toBe('mailout_________2024__1');
    expect(sesTagValue('x'.repeat(300))).toHaveLength(256);
  });

  it('refuses a non-https unsubscribe URL and a malformed recipient', () => {
    expect(() => buildSendEmailInput(message({ unsubscribeUrl: 'http://mail.example.com/u' }))).toThrow(/https/);
    expect(() => buildSendEmailInput(message({ to: 'not an address' }))).toThrow(/Not an email address/);
  });

  it('checks every address with the one email validator and sends its canonical form', () => {
    expect(() => buildSendEmailInput(message({ to: 'jo..hn@example.com' }))).toThrow(/Not an email address/);
    expect(() => buildSendEmailInput(message({ replyTo: 'editor@localhost' }))).toThrow(/SES_REPLY_TO is not an email address/);
    const input = buildSendEmailInput(message({ to: 'Anna@Пример.РФ', from: { email: 'News@Example.COM' } }));
    expect(input.Destination?.ToAddresses).toEqual(['Anna@xn--e1afmkfd.xn--p1ai']);
    expect(input.FromEmailAddress).toBe('News@example.com');
  });

  it('quotes ASCII display names that need it', () => {
    expect(formatAddress('a@example.com', 'Acme News')).toBe('Acme News <a@example.com>');
    expect(formatAddress('a@example.com', 'Acme, "News"')).toBe('"Acme, \\"News\\"" <a@example.com>');
  });
});

describe('buildEml', () => {
  it('parses back into the subject, parts and headers', async () => {
    const m = message();
    const eml = buildEml({ ...m, date: new Date('2024-11-24T12:00:00Z'), messageId: '<preview-1@example.com>' });
    expect(eml).toMatch(/^[\x00-\x7f]*$/); // 7-bit clean on the wire
    const parsed = await simpleParser(eml);
    expect(parsed.subject).toBe('Новости 🎉 ноября');
    expect(parsed.from?.value[0]).toEqual({ address: 'news@example.com', name: 'Журнал «Пример»' });
    expect(parsed.to && !Array.isArray(parsed.to) ? parsed.to.value[0]!.address : undefined).toBe('anna@example.org');
    expect(parsed.replyTo?.value[0]!.address).toBe('editor@example.com');
    expect(parsed.messageId).toBe('<preview-1@example.com>');
    expect(parsed.date?.toISOString()).toBe('2024-11-24T12:00:00.000Z');
    expect(parsed.html).toBe(m.html);
    expect(parsed.text).toBe(m.text);
    expect(parsed.headers.get('list')).toEqual({ unsubscribe: { url: UNSUB }, 'unsubscribe-post': { name: 'List-Unsubscribe=One-Click' } });
    expect(parsed.headers.get('precedence')).toBe('bulk');
    const lines = Object.fromEntries(parsed.headerLines.map((h) => [h.key, h.line]));
    expect(lines['list-unsubscribe']).toBe(`List-Unsubscribe: <${UNSUB}>`);
    expect(lines['list-unsubscribe-post']).toBe('List-Unsubscribe-Post: List-Unsubscribe=One-Click');
    expect(lines['mime-version']).toBe('MIME-Version: 1.0');
    expect(parsed.attachments).toHaveLength(0);
  });

  it('encodes long Cyrillic and emoji subjects into folded encoded-words that decode exactly', async () => {
    const subject = 'Очень длинная тема письма с эмодзи 🎉🎄👍🏽 и «кавычками» — чтобы проверить перенос строк в заголовке';
    const eml = buildEml({ ...message(), subject });
    const head = eml.split('\r\n\r\n')[0]!.split('\r\n');
    const start = head.findIndex((l) => l.startsWith('Subject: '));
    const subjectLines = [head[start]!];
    for (let i = start + 1; head[i]!.startsWith(' '); i += 1) subjectLines.push(head[i]!);
    expect(subjectLines.length).toBeGreaterThan(2);
    for (const line of subjectLines) expect(line.length).toBeLessThanOrEqual(76);
    expect((await simpleParser(eml)).subject).toBe(subject);
  });
});

describe('the preview .eml and the SES send', () => {
  it('carry the same headers of ours, X-Mailout-Id included, with the same values', async () => {
    const input = message();
    const ses = buildSendEmailInput(input).Content!.Simple!.Headers!;
    const eml = await simpleParser(buildEml(input));
    const ours = ['list-unsubscribe', 'list-unsubscribe-post', 'precedence', 'x-mailout-id'];
    expect(ses.map((h) => h.Name!.toLowerCase()).sort()).toEqual(ours);
    for (const h of ses) {
      const line = eml.headerLines.find((l) => l.key === h.Name!.toLowerCase());
      expect(line?.line).toBe(`${h.Name}: ${h.Value}`);
    }
    // Nothing of ours is in the .eml that the send would not carry (the rest SES writes itself).
    const sesWrites = ['from', 'to', 'reply-to', 'subject', 'date', 'message-id', 'mime-version', 'content-type'];
    expect(eml.headerLines.map((l) => l.key).filter((k) => !sesWrites.includes(k)).sort()).toEqual(ours);
  });
});
