import type { SendEmailCommandInput } from '@aws-sdk/client-sesv2';
import type { Config } from '../config';
import { buildSendEmailInput } from '../message';
import type { Recipient, RenderedMailout } from '../letter/types';
import { personalise } from '../render';

/**
 * One recipient's copy of the letter as a SESv2 SendEmail input: the one builder, for a live
 * send and a test send (`test`: "[TEST]" before the subject, tagged `mode=test`).
 */
export function recipientMessage(
  config: Pick<Config, 'ses'>,
  letter: RenderedMailout,
  mailoutId: string,
  to: Recipient & { unsubscribeUrl: string },
  opts: { test?: boolean } = {},
): SendEmailCommandInput {
  const message = personalise(letter, { unsubscribeUrl: to.unsubscribeUrl, name: to.name });
  return buildSendEmailInput({
    from: { email: config.ses.fromEmail, ...(config.ses.fromName ? { name: config.ses.fromName } : {}) },
    ...(config.ses.replyTo ? { replyTo: config.ses.replyTo } : {}),
    to: to.email,
    subject: opts.test ? `[TEST] ${message.subject}` : message.subject,
    html: message.html,
    text: message.text,
    unsubscribeUrl: to.unsubscribeUrl,
    mailoutId,
    ...(to.subscriberId ? { subscriberId: to.subscriberId } : {}),
    ...(config.ses.configurationSet ? { configurationSet: config.ses.configurationSet } : {}),
    ...(opts.test ? { test: true } : {}),
  });
}
