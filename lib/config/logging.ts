import { z } from 'zod';

/** Read by lib/log.ts itself (logging starts before the configuration); validated here so a typo is named. */
export const loggingVariables = {
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
};
