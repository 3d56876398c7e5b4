import { AppError, type ErrorCode } from '../errors';

/** SQLSTATEs the migrations raise on purpose, and the generic ones that mean bad input. */
const SQLSTATE_CODES: Record<string, ErrorCode> = {
  ML001: 'lease_lost',
  ML002: 'unfinished',
  '22023': 'bad_request', // invalid_parameter_value
  '22P02': 'bad_request', // invalid_text_representation (e.g. a malformed uuid)
  '23505': 'conflict', // unique_violation
  '42501': 'forbidden', // insufficient_privilege
  '42883': 'config', // undefined_function: migrations not applied
  '42P01': 'config', // undefined_table: migrations not applied
};

/** Wrap a database failure with the function it came from; the SQLSTATE picks the code. */
export function wrapDbError(fn: string, sqlstate: string | undefined, message: string, cause: unknown): AppError {
  const code = (sqlstate && SQLSTATE_CODES[sqlstate]) || 'database';
  const hint = code === 'config' ? ' (are the migrations applied? run `npm run migrate` or `supabase db push`)' : '';
  return new AppError(code, `${fn}: ${message}${hint}`, { cause, details: sqlstate ? { sqlstate } : undefined });
}
