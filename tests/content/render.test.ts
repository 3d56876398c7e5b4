import { detectLanguage, personalise, renderMailout } from '../../lib/render';
import { urlsIn } from './helpers';

const UNSUB = 'https://mail.example.com/api/unsubscribe?token=t0k.sig';

describe('sanitising', () => {
  const hostile = `# Hi

<script>alert('x')</script>
<iframe src="https://evil.example.com"></iframe>
<form action="https://evil.example.com"><input name="p"><button>Go</button></form>
<img src="https://img.example.com/a.png" onerror="alert(1)">
<a href="javascript:alert(1)">js link</a> <a href="/relative">relative</a> <a href="https://ok.example.com" onclick="steal()">ok</a>
<div style="background:url(https://track.example.com/p.gif);color:red">styled</div>
<object data="x.swf"></object><embed src="x.swf"><svg onload="alert(1)"></svg>

[md js](javascript:alert(1)) [md relative](/path) [md data](data:text/html;base64,PHNjcmlwdD4=) ![img](data:image/png;base64,AAAA)
`;

  it('lets no script, iframe, form, event handler or dangerous URL through', () => {
    const r = renderMailout({ markdown: hostile, subject: 'Test' });
    const { html } = personalise(r, { unsubscribeUrl: UNSUB });
    expect(html).not.toMatch(/<script|<iframe|<form|<input|<button|<object|<embed|<svg/i);
    expect(html).not.toMatch(/\son[a-z]+\s*=/i);
    expect(html).not.toMatch(/javascript:|data:text|data:image|url\(/i);
    expect(html).not.toContain("alert('x')");
    const { hrefs, srcs } = urlsIn(html);
    for (const h of hrefs) expect(h).toMatch(/^https:\/\//);
    for (const s of srcs) expect(s).toMatch(/^https:\/\//);
    expect(hrefs).toContain('https://ok.example.com');
    expect(srcs).toContain('https://img.example.com/a.png');
    expect(html).toContain('relative');
    expect(r.warnings.join('\n')).toMatch(/not an absolute web address/);
  });

  it('keeps the text of removed links and a readable text part', () => {
    const r = renderMailout({ markdown: hostile, subject: 'Test' });
    const { text } = personalise(r, { unsubscribeUrl: UNSUB });
    expect(text).not.toMatch(/alert|<script|javascript:/i);
    expect(text).toContain('md relative');
  });
});

describe('the email frame', () => {
  const r = renderMailout({
    markdown: 'Hello **there**, see [our site](https://example.com).',
    subject: 'Weekly news',
    preheader: 'Three things worth reading',
    footerAddress: 'Acme Ltd, 1 Main St\\nSpringfield',
    listName: 'Acme News',
  });
  const { html, text } = personalise(r, { unsubscribeUrl: UNSUB });

  it('is a 600 px table layout with inline styles, phone and dark-mode rules', () => {
    expect(html).toMatch(/^<!DOCTYPE html>/);
    expect(html).toContain('<meta charset="utf-8">');
    expect(html).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
    expect(html).toContain('<meta name="color-scheme" content="light dark">');
    expect(html).toContain('@media (prefers-color-scheme: dark)');
    expect(html).toContain('@media only screen and (max-width:620px)');
    expect(html).toMatch(/<table role="presentation" class="n-container" width="600"[^>]*max-width:600px/);
    expect(html).toMatch(/<p style="[^"]*font-size:16px/);
    expect(html).toContain('lang="en"');
  });

  it('carries the preheader hidden at the top of the body', () => {
    const body = html.split('<body')[1]!;
    expect(body.indexOf('Three things worth reading')).toBeGreaterThan(0);
    expect(body.indexOf('Three things worth reading')).toBeLessThan(body.indexOf('Hello'));
    expect(body).toMatch(/<div style="display:none;[^"]*">Three things worth reading/);
  });

  it('ends with the postal address, the list name and the unsubscribe link', () => {
    expect(html).toContain('You are receiving this email as a subscriber to Acme News.<br>Acme Ltd, 1 Main St<br>Springfield');
    expect(html).toContain(`<a href="https://mail.example.com/api/unsubscribe?token=t0k.sig" style="color:#1a66c9;text-decoration:underline;">Unsubscribe</a>`);
    expect(text).toMatch(/-- \nYou are receiving this email as a subscriber to Acme News.\nAcme Ltd, 1 Main St\nSpringfield\nUnsubscribe: https:\/\/mail\.example\.com\/api\/unsubscribe\?token=t0k\.sig\n$/);
  });

  it('writes links in the text part as text (url)', () => {
    expect(text).toContain('Hello there, see our site (https://example.com).');
  });
});

describe('tables', () => {
  const md = `| Неделя | Письма | Итог | Дата | Тариф | Ссылка |
| --- | ---: | ---: | --- | --- | --- |
| 12 | 10 000 | −2,5 % | 12.03.2026 | 200 ₽ в месяц | [1 000](https://example.com) |
`;
  const { html } = personalise(renderMailout({ markdown: `Цифры недели:\n\n${md}\nВот и всё.`, subject: 'T' }), { unsubscribeUrl: UNSUB });
  const cells = [...html.matchAll(/<(th|td) class="n-cell" align="[a-z]+" style="([^"]*)">(.*?)<\/\1>/g)].map((m) => ({ text: m[3]!.replace(/<[^>]+>/g, ''), style: m[2]! }));

  it('never break a word inside a cell, whatever the column around them does', () => {
    expect(cells).toHaveLength(12);
    for (const c of cells) expect(c.style).toContain('word-break:normal;overflow-wrap:normal');
    // The column itself still breaks long words and URLs in paragraphs.
    expect(html).toMatch(/class="n-card n-content" style="[^"]*word-break:break-word;overflow-wrap:break-word/);
  });

  it('keep a cell that is only a number, an amount or a date on one line', () => {
    const nowrap = cells.filter((c) => c.style.includes('white-space:nowrap')).map((c) => c.text);
    expect(nowrap).toEqual(['12', '10 000', '−2,5 %', '12.03.2026']);
  });

  it('sit in a box that scrolls sideways, inside a frame whose column content cannot widen', () => {
    expect(html).toContain('<div style="margin:0 0 16px 0;overflow-x:auto"><table class="n-table"');
    expect(html).toMatch(/<table role="presentation" class="n-container"[^>]*style="[^"]*table-layout:fixed/);
    expect(html).toMatch(/<table role="presentation" class="n-bg"[^>]*style="[^"]*table-layout:fixed/);
  });
});

describe('Russian and English', () => {
  it('guesses the language for the footer and <html lang>', () => {
    expect(detectLanguage('Привет, друзья! Это наш ноябрьский выпуск.')).toBe('ru');
    expect(detectLanguage('Hello friends, this is the November issue.')).toBe('en');
    const ru = personalise(renderMailout({ markdown: 'Привет, мир', subject: 'Тема' }), { unsubscribeUrl: UNSUB });
    expect(ru.html).toContain('lang="ru"');
    expect(ru.html).toContain('Отписаться от рассылки');
    expect(ru.text).toContain('Отписаться от рассылки: https://mail.example.com');
  });

  it('keeps Cyrillic, emoji and typography intact', () => {
    const md = '## Ёлка 🎄 «кавычки» — тире\n\nЩука, съешь ещё этих мягких французских булок… 👍🏽';
    const r = renderMailout({ markdown: md, subject: 'Ёлка 🎄' });
    const { html, text, subject } = personalise(r, { unsubscribeUrl: UNSUB });
    expect(subject).toBe('Ёлка 🎄');
    expect(html).toContain('Ёлка 🎄 «кавычки» — тире');
    expect(html).toContain('Щука, съешь ещё этих мягких французских булок… 👍🏽');
    expect(text).toContain('Ёлка 🎄 «кавычки» — тире\n-----');
  });
});

describe('personalisation', () => {
  const r = renderMailout({ markdown: 'Здравствуйте, {{name}}!\n\nДорогой {{ name | друг }}, как дела?', subject: 'Для {{name|вас}}' });

  it('fills in the name, escaped for HTML, without re-rendering', () => {
    const p = personalise(r, { unsubscribeUrl: UNSUB, name: 'Анна <b>&</b>' });
    expect(p.html).toContain('Здравствуйте, Анна &lt;b&gt;&amp;&lt;/b&gt;!');
    expect(p.text).toContain('Здравствуйте, Анна <b>&</b>!');
    expect(p.subject).toBe('Для Анна <b>&</b>');
    expect(r.usesName).toBe(true);
  });

  it('uses the fallback, or drops the greeting word cleanly, without a name', () => {
    const p = personalise(r, { unsubscribeUrl: UNSUB, name: '  ' });
    expect(p.html).toContain('Здравствуйте!');
    expect(p.html).toContain('Дорогой друг, как дела?');
    expect(p.subject).toBe('Для вас');
    expect(p.text).not.toContain('{{');
  });

  it('gives each recipient their own unsubscribe link and leaves the rendering untouched', () => {
    const a = personalise(r, { unsubscribeUrl: 'https://m.example.com/u?token=a&x=1' });
    const b = personalise(r, { unsubscribeUrl: 'https://m.example.com/u?token=b' });
    expect(a.html).toContain('href="https://m.example.com/u?token=a&amp;x=1"');
    expect(a.text).toContain('https://m.example.com/u?token=a&x=1');
    expect(b.html).toContain('href="https://m.example.com/u?token=b"');
    expect(b.html).not.toContain('token=a');
    expect(r.html).toContain('{{unsubscribe_url}}');
  });

  it('refuses an unsubscribe URL that is not absolute https', () => {
    expect(() => personalise(r, { unsubscribeUrl: '/api/unsubscribe?token=x' })).toThrow(/https/);
  });
});
