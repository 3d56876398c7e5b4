import { ListSubscriptionsByTopicCommand, type SNSClient, type Subscription } from '@aws-sdk/client-sns';
import { errorText, fail, ok, type Check } from './check';

async function subscriptionsOf(sns: SNSClient, topicArn: string): Promise<Subscription[]> {
  const all: Subscription[] = [];
  let token: string | undefined;
  do {
    const page = await sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn, ...(token ? { NextToken: token } : {}) }));
    all.push(...(page.Subscriptions ?? []));
    token = page.NextToken;
  } while (token);
  return all;
}

const isPending = (arn: string | undefined) => !arn || /^pending ?confirmation$/i.test(arn);

/** Each topic has a confirmed subscription of `endpoint` (APP_BASE_URL/api/ses-events), HTTPS for an https:// base URL. */
export async function checkFeedbackSubscription(sns: SNSClient, topicArns: string[], endpoint: string): Promise<Check> {
  const name = 'SNS subscription';
  const protocol = endpoint.startsWith('https:') ? 'https' : 'http';
  if (topicArns.length === 0) return fail(name, 'no feedback topic to check (see the configuration set)', 'Fix the configuration set first: npm run setup:aws.');
  const confirmed: string[] = [];
  for (const topicArn of topicArns) {
    let subs;
    try {
      subs = await subscriptionsOf(sns, topicArn);
    } catch (err) {
      return fail(name, `ListSubscriptionsByTopic on ${topicArn} failed: ${errorText(err)}`, 'Check the sns:ListSubscriptionsByTopic permission (npm run setup:aws -- --policy-only).');
    }
    const mine = subs.filter((s) => s.Protocol === protocol && s.Endpoint === endpoint);
    if (mine.length === 0) return fail(name, `${topicArn} has no ${protocol} subscription to ${endpoint}`, 'Run npm run setup:aws with APP_BASE_URL set to this deployment.');
    if (mine.every((s) => isPending(s.SubscriptionArn))) {
      return fail(name, `the subscription of ${endpoint} to ${topicArn} is pending confirmation: no event reaches the app`, 'Deploy the app (it confirms itself), then npm run setup:aws -- --resend-confirmation.');
    }
    confirmed.push(topicArn);
  }
  return ok(name, `${endpoint} is confirmed on ${confirmed.join(', ')}`);
}
