/**
 * Content benchmarks (`npm run bench -- content`):
 * - Notion API calls to read a page of N blocks, against the minimum possible (one page
 *   call, plus one call per 100 children for every block that has children), over a real
 *   HTTP fake of the Notion API that keeps Notion's rate limit, through the product's client
 *   and its shared limiter; and how long that read takes at Notion's 3 requests a second
 *   (it runs inside send-mailout's 300 s, vercel.json);
 * - render time (Markdown → sanitised HTML + text) of a 500-block page; goal under 200 ms;
 * - per-recipient personalisation time (string substitution, no re-render).
 */
import type { Figure } from '../bench';
import { createNotionClient } from '../../lib/notion/client';
import { readMailoutPage } from '../../lib/notion/read';
import { personalise, renderMailout } from '../../lib/render';
import { setLogLevel } from '../../lib/log';
import { block, checkboxProperty, makePage, richText, startFakeNotion, textRun, titleProperty, type FakeNotion } from '../fakes/notion';

type Json = Record<string, any>;

function withKids(fake: FakeNotion, parent: Json, kids: Json[]): Json {
  parent.has_children = true;
  fake.setChildren(parent.id, kids);
  return parent;
}

/** A page of `n` blocks in all (nested ones included), of mixed types, like a long newsletter. */
function buildMixedPage(fake: FakeNotion, n: number): { pageId: string; minimum: number; blocks: number } {
  const page = fake.addPage(makePage({ properties: { Name: titleProperty(`Bench ${n}`), Test: checkboxProperty(false) } }));
  const top: Json[] = [];
  let count = 0;
  let i = 0;
  while (count < n) {
    i += 1;
    switch (i % 10) {
      case 0:
        top.push(block('heading_2', { rich_text: richText(`Раздел ${i}`), color: 'default', is_toggleable: false }));
        count += 1;
        break;
      case 1: {
        // a bulleted item three levels deep
        const l3 = block('bulleted_list_item', { rich_text: richText(`Третий уровень ${i}`), color: 'default' });
        const l2 = withKids(fake, block('bulleted_list_item', { rich_text: richText(`Второй уровень ${i}`), color: 'default' }), [l3]);
        top.push(withKids(fake, block('bulleted_list_item', { rich_text: richText(`Пункт ${i}`), color: 'default' }), [l2]));
        count += 3;
        break;
      }
      case 2:
        top.push(block('quote', { rich_text: richText(`Цитата ${i}: «так говорил Заратустра»`), color: 'default' }));
        count += 1;
        break;
      case 3:
        top.push(block('code', { caption: [], rich_text: richText(`const x${i} = ${i} * 2;\nconsole.log(x${i});`), language: 'javascript' }));
        count += 1;
        break;
      case 4:
        top.push(block('image', { caption: richText(`Рисунок ${i}`), type: 'external', external: { url: `https://images.example.com/${i}.png` } }));
        count += 1;
        break;
      default:
        top.push(
          block('paragraph', {
            rich_text: [
              textRun(`Абзац ${i}. Обычный текст, `),
              textRun('жирный', { bold: true }),
              textRun(', '),
              textRun('курсив', { italic: true }),
              textRun(', '),
              textRun('ссылка', { link: `https://example.com/${i}` }),
              textRun(' и ещё немного текста, чтобы абзац был похож на настоящий: The quick brown fox jumps over the lazy dog.'),
            ],
            color: 'default',
          }),
        );
        count += 1;
    }
  }
  fake.setChildren(page.id, top);
  // Minimum: the page call, plus ceil(children/100) for the page and each block with children.
  let minimum = 1;
  const walk = (id: string) => {
    const kids = fake.children.get(id) ?? [];
    minimum += Math.max(1, Math.ceil(kids.length / 100));
    for (const k of kids) if (k.has_children) walk(k.id);
  };
  walk(page.id);
  return { pageId: page.id, minimum, blocks: count };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export async function run(): Promise<Figure[]> {
  setLogLevel('error');
  const figures: Figure[] = [];
  const fake = await startFakeNotion({ token: 'bench-token' });
  let markdown500 = '';
  try {
    const client = createNotionClient({ token: 'bench-token', baseUrl: fake.url });
    for (const n of [100, 500, 2000]) {
      const built = buildMixedPage(fake, n);
      fake.clearRequests();
      const t0 = performance.now();
      const page = await readMailoutPage(client, built.pageId);
      const seconds = (performance.now() - t0) / 1000;
      const calls = fake.requests.length;
      const refused = fake.requests.filter((r) => r.status === 429).length;
      const ratio = calls / built.minimum;
      figures.push({
        name: `Notion calls / minimum, page of ${built.blocks} blocks`,
        value: ratio,
        unit: 'x',
        goal: '= 1.0',
        ok: ratio <= 1.0001,
        note: `${calls} calls, minimum ${built.minimum}`,
      });
      figures.push({
        name: `Read a page of ${built.blocks} blocks at Notion's rate`,
        value: seconds,
        unit: 's',
        goal: '< 300 s, no 429',
        ok: seconds < 300 && refused === 0,
        note: `${calls} calls at 3/s; ${refused} refused by the rate limit`,
      });
      if (n === 500) markdown500 = page.markdown;
    }
  } finally {
    await fake.close();
  }

  // Render time: 500-block page, Markdown → sanitised HTML + text, after a warm-up.
  const input = { markdown: markdown500, subject: 'Бенчмарк 🎉', preheader: 'Пятьсот блоков', footerAddress: 'Москва', listName: 'Новости' };
  for (let i = 0; i < 3; i += 1) renderMailout(input);
  const times: number[] = [];
  let rendered = renderMailout(input);
  for (let i = 0; i < 15; i += 1) {
    const t0 = performance.now();
    rendered = renderMailout(input);
    times.push(performance.now() - t0);
  }
  const ms = median(times);
  figures.push({ name: 'Render a 500-block page (median of 15)', value: ms, unit: 'ms', goal: '< 200 ms', ok: ms < 200, note: `${(rendered.html.length / 1024).toFixed(0)} KiB HTML` });

  const reps = 2000;
  const t0 = performance.now();
  for (let i = 0; i < reps; i += 1) personalise(rendered, { unsubscribeUrl: `https://mail.example.com/api/unsubscribe?token=${i}`, name: `Имя ${i}` });
  const perRecipientUs = ((performance.now() - t0) / reps) * 1000;
  figures.push({ name: 'Personalise one recipient (500-block page)', value: perRecipientUs, unit: 'µs', note: 'no re-render' });
  return figures;
}
