import { z } from 'zod';
import type { Values } from './env';
import { canonicalEmail, list, optionalHttpUrl, optionalString } from './parsers';

/** Amazon SES: the region, the keys, the sender; and where the readiness checks ask SNS and DNS. */
export const sesVariables = {
  AWS_REGION: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as eu-west-1').describe('the SES region, e.g. eu-west-1'),
  AWS_ACCESS_KEY_ID: optionalString,
  AWS_SECRET_ACCESS_KEY: optionalString,
  AWS_SESSION_TOKEN: optionalString,
  SES_ENDPOINT: optionalHttpUrl,
  SES_FROM_EMAIL: canonicalEmail((_, reason) => `must be an email address such as news@example.com (${reason})`).describe('a verified SES sender address'),
  SES_FROM_NAME: optionalString,
  SES_REPLY_TO: canonicalEmail((_, reason) => `must be an email address (${reason})`).optional(),
  SES_CONFIGURATION_SET: optionalString,
  // Local stack and tests only: where the readiness checks ask SNS and DNS (lib/readiness).
  SNS_ENDPOINT: optionalHttpUrl,
  DNS_SERVERS: list.pipe(z.array(z.string().regex(/^[0-9.]+(:\d{1,5})?$|^\[[0-9a-f:]+\](:\d{1,5})?$/i, 'must be a comma-separated list of DNS servers (ip or ip:port)'))),
};

export interface SesConfig {
  aws: {
    region: string;
    endpoint?: string;
    /** SNS_ENDPOINT (local stack and tests); the readiness checks' SNS client. */
    snsEndpoint?: string;
    credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  };
  /** DNS_SERVERS (local stack and tests): the servers the DMARC check asks; empty: the system's. */
  dnsServers: string[];
  ses: { fromEmail: string; fromName?: string; replyTo?: string; configurationSet?: string };
}

type SesEnv = Values<typeof sesVariables>;

export function sesOf(env: SesEnv): SesConfig {
  return {
    aws: {
      region: env.AWS_REGION,
      endpoint: env.SES_ENDPOINT,
      snsEndpoint: env.SNS_ENDPOINT,
      credentials:
        env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
          ? {
              accessKeyId: env.AWS_ACCESS_KEY_ID,
              secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
              ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
            }
          : undefined,
    },
    dnsServers: env.DNS_SERVERS,
    ses: {
      fromEmail: env.SES_FROM_EMAIL,
      fromName: env.SES_FROM_NAME,
      replyTo: env.SES_REPLY_TO,
      configurationSet: env.SES_CONFIGURATION_SET,
    },
  };
}

/** The keys come as a pair or not at all (none: the SDK's role); one alone is a mistake. */
export function keyPairProblem(env: Pick<SesEnv, 'AWS_ACCESS_KEY_ID' | 'AWS_SECRET_ACCESS_KEY'>): string | undefined {
  return Boolean(env.AWS_ACCESS_KEY_ID) !== Boolean(env.AWS_SECRET_ACCESS_KEY)
    ? 'set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither (to use a role)'
    : undefined;
}
