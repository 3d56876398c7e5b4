import { z } from 'zod';
import type { Values } from './env';
import { intIn, list } from './parsers';

/** SES feedback through SNS: the topics trusted (none set: none trusted) and when a soft bounce counts as hard. */
export const snsVariables = {
  SNS_ALLOWED_TOPIC_ARNS: list.pipe(
    z.array(z.string().regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]{1,256}$/, 'must be a comma-separated list of SNS topic ARNs (arn:aws:sns:<region>:<account>:<topic>)')),
  ),
  SOFT_BOUNCE_LIMIT: intIn(3, 1, 100),
};

export interface SnsConfig {
  softBounceLimit: number;
  snsAllowedTopicArns: string[];
}

export function snsOf(env: Values<typeof snsVariables>): SnsConfig {
  return { softBounceLimit: env.SOFT_BOUNCE_LIMIT, snsAllowedTopicArns: env.SNS_ALLOWED_TOPIC_ARNS };
}
