import { personalise, renderMailout } from '../../lib/render';
import { readImageSize } from '../../lib/images/size';
import { displaySize } from '../../lib/render/html-body';
import { solidPng } from './fake-storage';

/**
 * What the reader sees in Gmail, Outlook and Apple Mail, checked in the HTML itself (the
 * same letters are opened in Chromium by tests/browser/email.test.ts).
 */

const UNSUB = 'https://mail.example.com/api/unsubscribe?token=t0k.sig';
const letter = (markdown: string, extra: Partial<Parameters<typeof renderMailout>[0]> = {}) =>
  personalise(renderMailout({ markdown, subject: 'Тема', ...extra }), { unsubscribeUrl: UNSUB });

/** The declarations of an inline style in order; the last of a property is the one that applies. */
function lastDeclaration(style: string, property: string): string | undefined {
  const values = style
    .split(';')
    .map((d) => d.split(':').map((x) => x.trim()))
    .filter(([p]) => p === property)
    .map(([, v]) => v);
  return values.at(-1);
}

describe('table columns', () => {
  const { html } = letter('Цены:\n\n| Тариф | Цена | Срок |\n| :--- | ---: | :---: |\n| Базовый | 100 ₽ | месяц |\n| Про | 2 000 ₽ | год |\n\nВот и всё.');
  const cells = [...html.matchAll(/<(th|td) class="n-cell" align="([a-z]+)" style="([^"]*)">(.*?)<\/\1>/g)].map((m) => ({
    text: m[4]!,
    align: m[2]!,
    textAlign: lastDeclaration(m[3]!, 'text-align'),
  }));

  it('keep the alignment the author gave each column, in the style and in the align attribute Outlook reads', () => {
    expect(cells.map((c) => [c.text, c.align, c.textAlign])).toEqual([
      ['Тариф', 'left', 'left'],
      ['Цена', 'right', 'right'],
      ['Срок', 'center', 'center'],
      ['Базовый', 'left', 'left'],
      ['100 ₽', 'right', 'right'],
      ['месяц', 'center', 'center'],
      ['Про', 'left', 'left'],
      ['2 000 ₽', 'right', 'right'],
      ['год', 'center', 'center'],
    ]);
  });
});

describe('the hidden preheader', () => {
  it('has no colour of its own (text coloured like its background is a spam sign) and stays hidden', () => {
    const { html } = letter('Текст.', { preheader: 'Коротко о главном' });
    const style = /<div style="([^"]*)">Коротко о главном/.exec(html)?.[1];
    expect(style).toBeDefined();
    expect(style).not.toMatch(/(^|;)\s*color\s*:/);
    for (const hidden of ['display:none', 'max-height:0', 'opacity:0', 'mso-hide:all']) expect(style).toContain(hidden);
  });
});

describe('spacing', () => {
  const marginsOf = (html: string) => {
    const body = /class="n-card n-content"[^>]*>\n([\s\S]*?)\n<\/td>/.exec(html)![1]!;
    const styles = [...body.matchAll(/^<[a-z0-9]+ (?:class="[^"]*" )?style="([^"]*)"/gm)].map((m) => /margin:([^;]+)/.exec(m[1]!)![1]!.split(' '));
    return { first: styles[0]!, last: styles.at(-1)! };
  };

  it('puts only the card padding above the first block, a heading or a paragraph alike', () => {
    expect(marginsOf(letter('# Заголовок\n\nАбзац.').html).first[0]).toBe('0');
    expect(marginsOf(letter('Абзац.\n\n## Подзаголовок\n\nЕщё абзац.').html).first[0]).toBe('0');
  });

  it('puts only the card padding under the last block', () => {
    expect(marginsOf(letter('Абзац.\n\nПоследний абзац.').html).last[2]).toBe('0');
    expect(letter('Абзац.\n\n- один\n- два').html).toMatch(/<ul style="margin:0 0 0 0;/);
    const figures = letter('Абзац.\n\n![a](https://images.example.com/a.png) ![b](https://images.example.com/b.png)').html.match(/<div style="margin:[^;]+;text-align:center">/g);
    expect(figures).toEqual(['<div style="margin:0 0 16px 0;text-align:center">', '<div style="margin:0 0 0 0;text-align:center">']);
  });

  it('keeps the space between blocks', () => {
    const { html } = letter('Первый.\n\nВторой.\n\nТретий.');
    expect(html).toContain('<p style="margin:0 0 16px 0;font-size:16px;line-height:1.6;color:#1f1f1f">Второй.</p>');
  });
});

describe('line breaks', () => {
  it('join the lines of a paragraph (a soft break) in the HTML and the text part alike', () => {
    const { html, text } = letter('Эта строка\nпродолжается здесь.\n\nС уважением,  \nредакция');
    expect(html).toContain('Эта строка\nпродолжается здесь.');
    expect(text).toContain('Эта строка продолжается здесь.');
    expect(text).not.toContain('Эта строка\n');
  });

  it('keep a hard break (two spaces or a backslash at the end of a line) in both', () => {
    const { html, text } = letter('С уважением,  \nредакция\n\nДо встречи,\\\nАнна');
    expect(html).toContain('С уважением,<br />редакция');
    expect(html).toContain('До встречи,<br />Анна');
    expect(text).toContain('С уважением,\nредакция');
    expect(text).toContain('До встречи,\nАнна');
  });
});

describe('images', () => {
  const cover = 'https://images.example.com/cover.png';
  const icon = 'https://images.example.com/icon.png';
  const md = `![Обложка](${cover})\n\nТекст со значком ![значок](${icon}).`;

  it('get a width attribute from their real size, never wider than the 520 px column (the height scales)', () => {
    const r = renderMailout({ markdown: md, subject: 'Тема', imageSizes: { [cover]: { width: 1200, height: 630 }, [icon]: { width: 24, height: 24 } } });
    const { html } = personalise(r, { unsubscribeUrl: UNSUB });
    expect(html).toMatch(/<img src="https:\/\/images\.example\.com\/cover\.png" width="520" alt="Обложка" style="[^"]*max-width:100%;height:auto/);
    expect(html).toMatch(/<img src="https:\/\/images\.example\.com\/icon\.png" width="24" alt="значок"/);
    expect(html).not.toMatch(/<img [^>]*\sheight="/);
    expect(r.warnings).toEqual([]);
  });

  it('warn about an image whose size is unknown (Outlook would show it at its own size)', () => {
    const r = renderMailout({ markdown: md, subject: 'Тема', imageSizes: { [icon]: { width: 24, height: 24 } } });
    expect(r.warnings).toEqual([expect.stringContaining('cover.png')]);
    expect(r.warnings[0]).toMatch(/Outlook/);
  });

  it('are measured from their file header: PNG, GIF, JPEG and WebP', () => {
    const gif = Buffer.concat([Buffer.from('GIF89a', 'latin1'), Buffer.from([0x58, 0x02, 0x90, 0x01]), Buffer.alloc(8)]);
    const jpeg = Buffer.from(
      'ffd8' + 'ffe000104a46494600010100000100010000' + 'ffdb0002' + 'ffc0001108' + '0276' + '0400' + '03012200021101031101' + 'ffd9',
      'hex',
    );
    const webp = Buffer.concat([
      Buffer.from('RIFF', 'latin1'),
      Buffer.from([0x24, 0, 0, 0]),
      Buffer.from('WEBPVP8X', 'latin1'),
      Buffer.from([10, 0, 0, 0, 0, 0, 0, 0]),
      Buffer.from([0x7f, 0x02, 0x00, 0xef, 0x01, 0x00]),
      Buffer.alloc(8),
    ]);
    expect(readImageSize(solidPng(300, 200))).toEqual({ width: 300, height: 200 });
    expect(readImageSize(gif)).toEqual({ width: 600, height: 400 });
    expect(readImageSize(jpeg)).toEqual({ width: 1024, height: 630 });
    expect(readImageSize(webp)).toEqual({ width: 640, height: 496 });
    expect(readImageSize(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'))).toBeNull();
    expect(readImageSize(solidPng(300, 200).subarray(0, 20))).toBeNull();
    expect(displaySize({ width: 2000, height: 1000 }, 520)).toEqual({ width: 520, height: 260 });
    expect(displaySize({ width: 400, height: 300 }, 520)).toEqual({ width: 400, height: 300 });
  });
});

describe('images written as HTML', () => {
  it('keep the width the author wrote, capped at the column, or get their real size; a stale height goes', () => {
    const sizes = { 'https://images.example.com/a.png': { width: 800, height: 400 } };
    const r = renderMailout({
      markdown: '<p><img src="https://images.example.com/a.png" alt="a"> <img src="https://images.example.com/b.png" width="1200" height="600" alt="b"> <img src="https://images.example.com/c.png" width="200" alt="c"></p>',
      subject: 'Тема',
      imageSizes: sizes,
    });
    const imgs = [...r.html.matchAll(/<img [^>]*>/g)].map((m) => m[0]);
    expect(imgs[0]).toMatch(/ width="520"/);
    expect(imgs[1]).toMatch(/ width="520"/);
    expect(imgs[1]).not.toMatch(/ height=/);
    expect(imgs[2]).toMatch(/ width="200"/);
  });
});
