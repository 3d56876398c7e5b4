import { GetEmailIdentityCommand, type GetEmailIdentityCommandOutput, type SESv2Client } from '@aws-sdk/client-sesv2';
import { errorText, fail, isNotFound, ok, warn, type Check } from './check';

/** The SES identity `SES_FROM_EMAIL` sends as: its domain when verified, else the address itself. */
export interface SenderIdentity {
  name: string;
  /** GetEmailIdentity's answer; null when SES has neither the domain nor the address. */
  identity: GetEmailIdentityCommandOutput | null;
  /** Why it could not be read (a permission, a network error); then `identity` is null. */
  error?: string;
}

async function getIdentity(ses: SESv2Client, name: string): Promise<GetEmailIdentityCommandOutput | null> {
  try {
    return await ses.send(new GetEmailIdentityCommand({ EmailIdentity: name }));
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}

export function domainOf(email: string): string {
  return email.slice(email.lastIndexOf('@') + 1).toLowerCase();
}

/** The domain first: Gmail and Yahoo judge the domain's DKIM (d=) and DMARC, not the address. */
export async function readSenderIdentity(ses: SESv2Client, fromEmail: string): Promise<SenderIdentity> {
  const domain = domainOf(fromEmail);
  try {
    const byDomain = await getIdentity(ses, domain);
    if (byDomain?.VerifiedForSendingStatus) return { name: domain, identity: byDomain };
    const byAddress = await getIdentity(ses, fromEmail);
    if (byAddress) return { name: fromEmail, identity: byAddress };
    return { name: domain, identity: byDomain };
  } catch (err) {
    return { name: domain, identity: null, error: errorText(err) };
  }
}

const VERIFY_DOMAIN = (domain: string) =>
  `Verify the domain ${domain} in SES with Easy DKIM (SES console → Identities → Create identity → Domain) and publish the three CNAME records it shows.`;

export function checkIdentityVerified(sender: SenderIdentity, fromEmail: string): Check {
  const name = `Sender identity (${fromEmail})`;
  if (sender.error) return fail(name, `GetEmailIdentity failed: ${sender.error}`, 'Check the AWS credentials and the ses:GetEmailIdentity permission (npm run setup:aws -- --policy-only).');
  if (!sender.identity) return fail(name, `SES has no identity ${domainOf(fromEmail)} or ${fromEmail}`, VERIFY_DOMAIN(domainOf(fromEmail)));
  if (!sender.identity.VerifiedForSendingStatus) {
    return fail(name, `${sender.name} is not verified for sending (verification ${sender.identity.VerificationStatus ?? 'unknown'})`, VERIFY_DOMAIN(domainOf(fromEmail)));
  }
  return ok(name, `${sender.name} (${sender.identity.IdentityType ?? 'identity'}) is verified for sending`);
}

export function checkDkim(sender: SenderIdentity, fromEmail: string): Check {
  const name = 'DKIM';
  const dkim = sender.identity?.DkimAttributes;
  if (!sender.identity) return fail(name, 'no SES identity to sign with', VERIFY_DOMAIN(domainOf(fromEmail)));
  const origin = dkim?.SigningAttributesOrigin === 'EXTERNAL' ? 'BYODKIM' : 'Easy DKIM';
  if (!dkim?.SigningEnabled) return fail(name, `DKIM signing is off for ${sender.name}`, `Turn DKIM signing on for ${sender.name} (SES console → Identities → ${sender.name} → Authentication).`);
  if (dkim.Status !== 'SUCCESS') {
    return fail(name, `${origin} status of ${sender.name} is ${dkim.Status ?? 'unknown'}, not SUCCESS`, `Publish the DKIM CNAME records SES lists for ${sender.name} (${(dkim.Tokens ?? []).map((t) => `${t}._domainkey`).join(', ') || 'see the console'}) and wait for SES to verify them.`);
  }
  return ok(name, `${origin} signs as ${sender.name} (SUCCESS)`);
}

export function checkMailFrom(sender: SenderIdentity): Check {
  const name = 'Custom MAIL FROM';
  const mf = sender.identity?.MailFromAttributes;
  const fix = `Set a custom MAIL FROM domain (e.g. bounce.${domainOf(sender.name)}) on ${sender.name} and publish its MX and SPF records, so SPF aligns with the From domain.`;
  if (!mf?.MailFromDomain) return warn(name, 'none: SPF passes for amazonses.com, not aligned with the From domain', fix);
  if (mf.MailFromDomainStatus !== 'SUCCESS') return warn(name, `${mf.MailFromDomain} is ${mf.MailFromDomainStatus ?? 'unknown'}, not SUCCESS`, fix);
  return ok(name, `${mf.MailFromDomain} (SUCCESS): SPF aligned`);
}
