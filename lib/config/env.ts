import type { z } from 'zod';
import { variableProblem } from './errors';

/** A table of environment variables: each name with its parser (its hint in the parser's description). */
export type Variables = Record<string, z.ZodType>;

/** The values a table of variables parses to. */
export type Values<V extends Variables> = { [K in keyof V]: z.output<V[K]> };

export type Source = Record<string, string | undefined>;

/**
 * A value as the configuration sees it: trimmed, and blank (`NAME=` in .env, or only spaces)
 * is unset, so that a default applies or the refusal says "is not set", never "is empty".
 */
export function unsetIfBlank(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

/** One variable read the configuration's way (blank is unset), for the tools that need a variable it does not hold. */
export function env(name: string, source: Source = process.env): string | undefined {
  return unsetIfBlank(source[name]);
}

/** Each variable on its own: the valid values, and a problem (named, with its hint) per invalid one. */
export function readVariables<V extends Variables>(variables: V, source: Source): { values: Values<V>; problems: Map<keyof V & string, string> } {
  const values: Record<string, unknown> = {};
  const problems = new Map<keyof V & string, string>();
  for (const [name, parser] of Object.entries(variables) as [keyof V & string, z.ZodType][]) {
    const parsed = parser.safeParse(env(name, source));
    if (parsed.success) values[name] = parsed.data;
    else problems.set(name, variableProblem(name, parsed.error, parser.description));
  }
  return { values: values as Values<V>, problems };
}
