import { AppError } from '../errors';

/** An input file problem (unreadable, no email column, malformed CSV): the CLI exits 1. */
export class ImportFileError extends AppError {
  constructor(message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super('bad_request', message, options);
    this.name = 'ImportFileError';
  }
}
