import { GENERATE, httpUrl, intIn, optionalSecret, secret } from './parsers';
import type { Values } from './env';

/** The deployment's address and the secrets of its calls and links. */
export const linkVariables = {
  EXECUTOR_SHARED_SECRET: secret(16).describe(`the secret the Notion automation sends with each webhook; ${GENERATE}`),
  APP_BASE_URL: httpUrl.describe('the public URL of this deployment, e.g. https://mailout.example.com'),
  UNSUBSCRIBE_SECRET: optionalSecret(16),
  REPORT_SECRET: optionalSecret(16),
  REPORT_LINK_DAYS: intIn(30, 1, 3650),
  CRON_SECRET: optionalSecret(16),
};

export interface LinksConfig {
  executorSecret: string;
  appBaseUrl: string;
  /** UNSUBSCRIBE_SECRET: the key of both links in a letter, unsubscribe and the web version (lib/signed-link.ts). */
  unsubscribeSecret: string;
  /** REPORT_SECRET: the key of report links. */
  reportSecret: string;
  /** Days a report link opens the CSV (REPORT_LINK_DAYS). */
  reportLinkDays: number;
  cronSecret?: string;
}

export function linksOf(env: Values<typeof linkVariables>): LinksConfig {
  return {
    executorSecret: env.EXECUTOR_SHARED_SECRET,
    appBaseUrl: env.APP_BASE_URL,
    // Separate secrets are better; without them, purpose-bound keys are derived from the executor secret.
    unsubscribeSecret: env.UNSUBSCRIBE_SECRET ?? `unsubscribe:${env.EXECUTOR_SHARED_SECRET}`,
    reportSecret: env.REPORT_SECRET ?? `report:${env.EXECUTOR_SHARED_SECRET}`,
    reportLinkDays: env.REPORT_LINK_DAYS,
    cronSecret: env.CRON_SECRET,
  };
}
