import { GetConfigurationSetCommand, GetConfigurationSetEventDestinationsCommand, type SESv2Client } from '@aws-sdk/client-sesv2';
import { errorText, fail, isNotFound, ok, warn, type Check } from './check';

/** Without these no bounce or complaint comes back: the list is never cleaned, the auto-pause never fires. */
export const REQUIRED_EVENTS = ['BOUNCE', 'COMPLAINT'] as const;
/** Wanted: DELIVERY for the counts, SEND to settle a row whose SendEmail answer was lost. */
export const WANTED_EVENTS = ['DELIVERY', 'SEND'] as const;

const SETUP = 'Run npm run setup:aws (it creates the configuration set and its event destination), then set SES_CONFIGURATION_SET and SNS_ALLOWED_TOPIC_ARNS as it prints.';

export interface ConfigurationSetCheck extends Check {
  /** The allowed topics the set publishes Bounce and Complaint to: the SNS check's subjects. */
  topicArns: string[];
}

/**
 * The configuration set a live send uses (`SES_CONFIGURATION_SET`, else the identity's
 * default) exists and has an enabled event destination publishing Bounce and Complaint (and,
 * wanted, Delivery and Send) to an SNS topic in `SNS_ALLOWED_TOPIC_ARNS`.
 */
export async function checkConfigurationSet(
  ses: SESv2Client,
  input: { configured?: string; identityDefault?: string; allowedTopicArns: string[] },
): Promise<ConfigurationSetCheck> {
  const setName = input.configured ?? input.identityDefault;
  const name = `Configuration set${setName ? ` (${setName})` : ''}`;
  const refuse = (detail: string, fix: string): ConfigurationSetCheck => ({ ...fail(name, detail, fix), topicArns: [] });
  if (!setName) return refuse('SES_CONFIGURATION_SET is not set and the sender identity has no default configuration set: no bounce or complaint would come back', SETUP);
  if (input.allowedTopicArns.length === 0) return refuse('SNS_ALLOWED_TOPIC_ARNS is not set: every SES event would be refused', SETUP);

  let destinations;
  try {
    await ses.send(new GetConfigurationSetCommand({ ConfigurationSetName: setName }));
    destinations = (await ses.send(new GetConfigurationSetEventDestinationsCommand({ ConfigurationSetName: setName }))).EventDestinations ?? [];
  } catch (err) {
    if (isNotFound(err)) return refuse(`SES has no configuration set "${setName}"`, SETUP);
    return refuse(`reading it failed: ${errorText(err)}`, 'Check the ses:GetConfigurationSet and ses:GetConfigurationSetEventDestinations permissions (npm run setup:aws -- --policy-only).');
  }

  const allowed = destinations.filter((d) => d.Enabled && d.SnsDestination?.TopicArn && input.allowedTopicArns.includes(d.SnsDestination.TopicArn));
  const published = new Set(allowed.flatMap((d) => d.MatchingEventTypes ?? []));
  const topicArns = [...new Set(allowed.filter((d) => REQUIRED_EVENTS.every((t) => d.MatchingEventTypes?.includes(t))).map((d) => d.SnsDestination!.TopicArn!))];
  const lacking = REQUIRED_EVENTS.filter((t) => !published.has(t));
  if (lacking.length || topicArns.length === 0) {
    const elsewhere = destinations.filter((d) => !allowed.includes(d)).map((d) => `${d.Name} (${d.Enabled ? 'enabled' : 'disabled'}, ${d.SnsDestination?.TopicArn ?? 'not SNS'})`);
    const detail = `no enabled event destination publishes ${(lacking.length ? lacking : REQUIRED_EVENTS).join(' and ')} to a topic in SNS_ALLOWED_TOPIC_ARNS${elsewhere.length ? `; other destinations: ${elsewhere.join(', ')}` : ''}`;
    return refuse(detail, SETUP);
  }
  const missing = WANTED_EVENTS.filter((t) => !published.has(t));
  const facts = `publishes ${[...published].join(', ')} to ${topicArns.join(', ')}`;
  if (missing.length) {
    return { ...warn(name, `${facts}; not ${missing.join(' or ')}`, `Add ${missing.join(' and ')} to the event destination: run npm run setup:aws.`), topicArns };
  }
  return { ...ok(name, facts), topicArns };
}
