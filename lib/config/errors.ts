import type { z } from 'zod';
import { AppError } from '../errors';

/** Where a setting is changed, said after the problems. */
const WHERE_TO_SET = 'Set them in .env or the Vercel dashboard.';

/** What is wrong with one variable, always naming it: "NAME is not set (what it is for)". Never quotes a secret's value. */
export function variableProblem(name: string, error: z.ZodError, hint: string | undefined): string {
  return error.issues
    .map((issue) => {
      const problem = issue.code === 'invalid_type' && issue.message.includes('undefined') ? 'is not set' : issue.message;
      return `${name} ${problem}${hint ? ` (${hint})` : ''}`;
    })
    .join('; ');
}

/** The one refusal of a configuration: every problem, each naming what to set, then where to set it. */
export function incomplete(problems: string[], where: string = WHERE_TO_SET): AppError {
  return new AppError('config', `Configuration is incomplete: ${problems.join('; ')}.${where ? ` ${where}` : ''}`, { details: { problems } });
}
