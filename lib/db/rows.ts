import { AppError } from '../errors';

/**
 * The checked reading of one SQL answer row, for the row mappers of the typed wrappers
 * (lib/db/ledger.ts, subscribers.ts, report.ts). The two adapters answer the same column
 * differently (pg: a Date and, for bigint, a string; PostgREST: JSON strings and numbers), so
 * every column is converted here, and a value of the wrong kind throws, naming the SQL
 * function and the column. The value itself is never in the message: it may be an address
 * or a lease token.
 */
export interface Columns {
  text(col: string): string;
  textOrNull(col: string): string | null;
  /** A whole number ≥ 0 (a count): a number, or a bigint's decimal string. */
  count(col: string): number;
  flag(col: string): boolean;
  date(col: string): Date;
  dateOrNull(col: string): Date | null;
  oneOf<T extends string>(col: string, values: readonly T[]): T;
  oneOfOrNull<T extends string>(col: string, values: readonly T[]): T | null;
  /** A text or uuid array (an empty array when SQL null). */
  texts(col: string): string[];
  /** A jsonb column, as the adapter parsed it (null when SQL null). */
  json(col: string): unknown;
}

function kindOf(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (value instanceof Date) return 'an invalid date';
  return /^[aeiou]/.test(typeof value) ? `an ${typeof value}` : `a ${typeof value}`;
}

/** The columns of `row`, an answer of SQL function `fn`. */
export function columns(fn: string, row: Record<string, unknown>): Columns {
  const bad = (col: string, expected: string): never => {
    throw new AppError('internal', `${fn}: column ${col} is ${kindOf(row[col])}, expected ${expected}.`);
  };
  const nullable =
    <T>(read: (col: string) => T) =>
    (col: string): T | null =>
      row[col] === null ? null : read(col);
  const text = (col: string): string => {
    const v = row[col];
    return typeof v === 'string' ? v : bad(col, 'text');
  };
  const date = (col: string): Date => {
    const v = row[col];
    const d = v instanceof Date ? v : typeof v === 'string' ? new Date(v) : null;
    return d && !Number.isNaN(d.getTime()) ? d : bad(col, 'a timestamp');
  };
  const oneOf = <T extends string>(col: string, values: readonly T[]): T => {
    const v = row[col];
    return values.includes(v as T) ? (v as T) : bad(col, `one of ${values.join(', ')}`);
  };
  return {
    text,
    textOrNull: nullable(text),
    count(col) {
      const v = row[col];
      const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
      return Number.isSafeInteger(n) && n >= 0 ? n : bad(col, 'a whole number ≥ 0');
    },
    flag(col) {
      const v = row[col];
      return typeof v === 'boolean' ? v : bad(col, 'a boolean');
    },
    date,
    dateOrNull: nullable(date),
    oneOf,
    oneOfOrNull: <T extends string>(col: string, values: readonly T[]) => (row[col] === null ? null : oneOf(col, values)),
    texts(col) {
      const v = row[col] ?? [];
      return Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : bad(col, 'an array of text');
    },
    json(col) {
      return col in row ? (row[col] ?? null) : bad(col, 'a json value');
    },
  };
}

/** The one row a SQL function always answers. */
export function onlyRow<T>(rows: T[], fn: string): T {
  const row = rows[0];
  if (row === undefined) throw new AppError('internal', `${fn} returned no row.`);
  return row;
}
