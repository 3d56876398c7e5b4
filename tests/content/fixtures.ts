/**
 * Notion API payloads for the content tests, shaped as the API (2025-09-03) returns them;
 * text runs, annotations, mentions, equations, files and captions follow the samples of
 * developers.notion.com/reference/block and /reference/rich-text.
 */
import { block, checkboxProperty, makePage, richText, richTextProperty, selectProperty, textRun, titleProperty, type FakeNotion } from '../../scripts/fakes/notion';

import richTextFixtures from './fixtures/notion/rich-text.json';

type Json = Record<string, any>;

export const NOTION_FILE_URL =
  'https://prod-files-secure.s3.us-west-2.amazonaws.com/7b8b0713-dbd4-4962-b38b-955b6c49a573/b2a2e4b4-1d9e-4c1f-9d0b-2c8f0c7d9e11/photo.png?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAT73L2G45HZZMZUHI%2F20241124%2Fus-west-2%2Fs3%2Faws4_request&X-Amz-Date=20241124T120000Z&X-Amz-Expires=3600&X-Amz-Signature=3f1e0c6b2a&X-Amz-SignedHeaders=host&x-id=GetObject';

export const EXTERNAL_IMAGE_URL = 'https://images.unsplash.com/photo-1500530855697-b586d89ba3ee?w=1200';

/** The official sample heading (developers.notion.com/reference/block), verbatim. */
export const OFFICIAL_HEADING_2: Json = {
  object: 'block',
  id: 'c02fc1d3-db8b-45c5-a222-27595b15aea7',
  parent: { type: 'page_id', page_id: '59833787-2cf9-4fdf-8782-e53db20768a5' },
  created_time: '2022-03-01T19:05:00.000Z',
  last_edited_time: '2022-07-06T19:41:00.000Z',
  created_by: { object: 'user', id: 'ee5f0f84-409a-440f-983a-a5315961c6e4' },
  last_edited_by: { object: 'user', id: 'ee5f0f84-409a-440f-983a-a5315961c6e4' },
  has_children: false,
  archived: false,
  in_trash: false,
  type: 'heading_2',
  heading_2: {
    rich_text: [
      {
        type: 'text',
        text: { content: 'Lacinato kale', link: null },
        annotations: { bold: false, italic: false, strikethrough: false, underline: false, code: false, color: 'green' },
        plain_text: 'Lacinato kale',
        href: null,
      },
    ],
    color: 'default',
    is_toggleable: false,
  },
};

const PAGE_MENTION: Json = {
  type: 'mention',
  mention: { type: 'page', page: { id: '3c612f56-fdd0-4a30-a4d6-bda7d7426309' } },
  annotations: { bold: false, italic: false, strikethrough: false, underline: false, code: false, color: 'default' },
  plain_text: 'План на год',
  href: 'https://www.notion.so/3c612f56fdd04a30a4d6bda7d7426309',
};

/** A link mention (a pasted link Notion shows as a card), shaped as tests/content/fixtures/notion/rich-text.json has it. */
const LINK_MENTION: Json = (richTextFixtures.cases.find((c) => c.name === 'link mention')!.rich_text as Json[])[0]!;

const INLINE_EQUATION: Json = {
  type: 'equation',
  equation: { expression: 'E = mc^2' },
  annotations: { bold: false, italic: false, strikethrough: false, underline: false, code: false, color: 'default' },
  plain_text: 'E = mc^2',
  href: null,
};

/** A relative link, as Notion gives for links to its own pages typed as URLs. */
const RELATIVE_LINK = textRun('внутренняя ссылка', { link: '/0b2f5f0e3c8f4a1e8f1f3b2a1c0d9e8f' });

export interface BuiltPage {
  pageId: string;
  blockCount: number;
  /** Blocks that have children (the page included), with their child counts: the minimum call plan. */
  parents: Array<{ id: string; children: number }>;
}

function parentsOf(fake: FakeNotion, rootId: string): Array<{ id: string; children: number }> {
  const out: Array<{ id: string; children: number }> = [];
  const walk = (id: string) => {
    const kids = fake.children.get(id) ?? [];
    out.push({ id, children: kids.length });
    for (const k of kids) if (k.has_children) walk(k.id);
  };
  walk(rootId);
  return out;
}

/** The minimum Notion calls to read a page: the page, plus ceil(n/100) per block with children. */
export function minimumCalls(parents: Array<{ children: number }>): number {
  return 1 + parents.reduce((sum, p) => sum + Math.max(1, Math.ceil(p.children / 100)), 0);
}

export function mailoutProperties(options: { title: string; subject?: string; preheader?: string; test?: boolean; status?: string }): Json {
  return {
    Name: titleProperty(options.title),
    Subject: richTextProperty(options.subject ?? '', 'Subj'),
    Preheader: richTextProperty(options.preheader ?? '', 'Preh'),
    Test: checkboxProperty(options.test ?? false, 'Test'),
    Status: selectProperty(options.status ?? 'Ready', 'Stat'),
  };
}

/** Attach children to a parent block (sets has_children and the fake's child list). */
function withChildren(fake: FakeNotion, parent: Json, kids: Json[]): Json {
  parent.has_children = kids.length > 0;
  for (const k of kids) k.parent = { type: 'block_id', block_id: parent.id };
  fake.setChildren(parent.id, kids);
  return parent;
}

/** A mailout page with every block type the email supports, and a few it does not. */
export function buildEveryBlockPage(fake: FakeNotion): BuiltPage {
  const page = fake.addPage(
    makePage({
      dataSourceId: '248104cd-477e-80af-bc30-000bd28de8f9',
      properties: mailoutProperties({ title: 'Ноябрьский выпуск', subject: 'Новости ноября 🎉 — что нового', preheader: 'Коротко о главном за месяц', test: true }),
    }),
  );

  const nested3 = block('bulleted_list_item', { rich_text: richText('Третий уровень'), color: 'default' });
  const nested2 = withChildren(fake, block('bulleted_list_item', { rich_text: richText('Второй уровень'), color: 'default' }), [nested3]);
  const bullet1 = withChildren(fake, block('bulleted_list_item', { rich_text: richText('Первый пункт'), color: 'default' }), [nested2]);
  const bullet2 = block('bulleted_list_item', { rich_text: richText('Второй пункт'), color: 'default' });

  const numSub = block('numbered_list_item', { rich_text: richText('Подшаг'), color: 'default' });
  const num1 = withChildren(fake, block('numbered_list_item', { rich_text: richText('Шаг один'), color: 'default' }), [numSub]);
  const num2 = block('numbered_list_item', { rich_text: richText('Шаг два'), color: 'default' });

  const callout = withChildren(
    fake,
    block('callout', { rich_text: richText('Важно: '), icon: { type: 'emoji', emoji: '💡' }, color: 'gray_background' }),
    [block('paragraph', { rich_text: richText('Текст внутри выноски.'), color: 'default' })],
  );
  const toggle = withChildren(fake, block('toggle', { rich_text: richText('Подробности (раскрыть)'), color: 'default' }), [
    block('paragraph', { rich_text: richText('Скрытый абзац внутри переключателя.'), color: 'default' }),
    block('bulleted_list_item', { rich_text: richText('Пункт внутри переключателя'), color: 'default' }),
  ]);

  const cell = (t: string) => richText(t);
  const table = withChildren(fake, block('table', { table_width: 2, has_column_header: true, has_row_header: false }), [
    block('table_row', { cells: [cell('Тариф'), cell('Цена')] }),
    block('table_row', { cells: [cell('Базовый'), cell('100 ₽')] }),
    block('table_row', { cells: [[textRun('Про', { bold: true })], cell('200 ₽ | в месяц')] }),
  ]);

  const col1 = withChildren(fake, block('column', { width_ratio: 0.5 }), [block('paragraph', { rich_text: richText('Левая колонка'), color: 'default' })]);
  const col2 = withChildren(fake, block('column', { width_ratio: 0.5 }), [block('paragraph', { rich_text: richText('Правая колонка'), color: 'default' })]);
  const columns = withChildren(fake, block('column_list', {}), [col1, col2]);

  const top: Json[] = [
    block('heading_1', { rich_text: richText('Новости проекта'), color: 'default', is_toggleable: false }),
    block('paragraph', { rich_text: richText('Привет, {{name}}!'), color: 'default' }),
    block('paragraph', {
      rich_text: [
        textRun('Обычный текст, '),
        textRun('жирный', { bold: true }),
        textRun(', '),
        textRun('курсив', { italic: true }),
        textRun(', '),
        textRun('зачёркнутый', { strikethrough: true }),
        textRun(', '),
        textRun('подчёркнутый', { underline: true }),
        textRun(', '),
        textRun('const x = 1', { code: true }),
        textRun(', '),
        textRun('красный', { color: 'red' }),
        textRun(', '),
        textRun('с фоном', { color: 'yellow_background' }),
        textRun(', '),
        textRun('ссылка', { link: 'https://example.com/путь?q=1&lang=ru' }),
        textRun(', '),
        PAGE_MENTION,
        textRun(', '),
        LINK_MENTION,
        textRun(', '),
        RELATIVE_LINK,
        textRun(', формула '),
        INLINE_EQUATION,
        textRun('. Символы: 2*3*4 = 24, <b>не тег</b>, snake_case_name, # не заголовок.'),
      ],
      color: 'default',
    }),
    OFFICIAL_HEADING_2,
    block('heading_3', { rich_text: richText('Section three in English'), color: 'default', is_toggleable: false }),
    bullet1,
    bullet2,
    num1,
    num2,
    block('to_do', { rich_text: richText('Сделано'), checked: true, color: 'default' }),
    block('to_do', { rich_text: richText('Не сделано'), checked: false, color: 'default' }),
    block('quote', { rich_text: richText('Цитата великого человека.'), color: 'default' }),
    callout,
    toggle,
    block('code', {
      caption: [],
      rich_text: [textRun('const greeting = `привет`;\n'), textRun('console.log(greeting < 2);')],
      language: 'javascript',
    }),
    block('divider', {}),
    block('image', { caption: richText('Закат над морем'), type: 'external', external: { url: EXTERNAL_IMAGE_URL } }),
    block('image', { caption: richText('Фото из Notion'), type: 'file', file: { url: NOTION_FILE_URL, expiry_time: '2024-11-24T13:00:00.000Z' } }),
    table,
    columns,
    block('bookmark', { caption: richText('Наш блог'), url: 'https://blog.example.com/post' }),
    block('link_preview', { url: 'https://github.com/makenotion/notion-sdk-js/pull/1' }),
    block('equation', { expression: 'e^{i\\pi} + 1 = 0' }),
    block('unsupported', {}),
    block('child_database', { title: 'Задачи' }),
    block('breadcrumb', {}),
    block('paragraph', { rich_text: [], color: 'default' }),
    block('paragraph', { rich_text: richText('Конец письма.'), color: 'default' }),
  ];
  fake.setChildren(page.id, top);
  return { pageId: page.id, blockCount: top.length, parents: parentsOf(fake, page.id) };
}

/**
 * A long page: `topLevel` paragraphs (more than 100 means several pages of children) with,
 * every `nestEvery` blocks, a bulleted item three levels deep.
 */
export function buildLongPage(fake: FakeNotion, options: { topLevel: number; nestEvery?: number; title?: string }): BuiltPage {
  const page = fake.addPage(makePage({ properties: mailoutProperties({ title: options.title ?? 'Длинное письмо' }) }));
  const top: Json[] = [];
  for (let i = 1; i <= options.topLevel; i += 1) {
    if (options.nestEvery && i % options.nestEvery === 0) {
      const l3 = block('bulleted_list_item', { rich_text: richText(`Уровень 3 / ${i}`), color: 'default' });
      const l2 = withChildren(fake, block('bulleted_list_item', { rich_text: richText(`Уровень 2 / ${i}`), color: 'default' }), [l3]);
      top.push(withChildren(fake, block('bulleted_list_item', { rich_text: richText(`Уровень 1 / ${i}`), color: 'default' }), [l2]));
    } else {
      top.push(block('paragraph', { rich_text: richText(`Абзац номер ${i}: текст письма с **звёздочками** и ссылкой`), color: 'default' }));
    }
  }
  fake.setChildren(page.id, top);
  return { pageId: page.id, blockCount: top.length, parents: parentsOf(fake, page.id) };
}
