export * from './notion';
import { block, richText, type FakeNotion } from './notion';

/** A number property as the API returns it. */
export function numberPropertyValue(n: number | null): Record<string, unknown> {
  return { id: 'num', type: 'number', number: n };
}

/** A body nested `depth` levels deep, each level a bulleted item holding the next: one children request per level, the slowest shape to read. */
export function nestBlocks(notion: FakeNotion, parentId: string, depth: number): void {
  let parent = parentId;
  for (let level = 1; level <= depth; level++) {
    const item = block('bulleted_list_item', { rich_text: richText(`Уровень ${level}`), color: 'default' }, { hasChildren: level < depth, parentId: parent });
    notion.setChildren(parent, [item]);
    parent = item.id;
  }
}
