export * from '../fakes/notion';

/** A number property as the API returns it. */
export function numberPropertyValue(n: number | null): Record<string, unknown> {
  return { id: 'num', type: 'number', number: n };
}
