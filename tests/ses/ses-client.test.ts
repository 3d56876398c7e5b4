import { SendEmailCommand } from '@aws-sdk/client-sesv2';
import { createSesClient, hasEndpointOverride } from '../../lib/ses/client';
import { startFakeSes, type FakeSes } from '../../scripts/fakes/ses';

let ses: FakeSes;
beforeAll(async () => {
  ses = await startFakeSes();
});
afterAll(() => ses.close());
beforeEach(() => ses.reset());

const newsletter = (to: string) =>
  new SendEmailCommand({
    FromEmailAddress: 'Zoë News <news@example.com>',
    Destination: { ToAddresses: [to] },
    ReplyToAddresses: ['editor@example.com'],
    ConfigurationSetName: 'newsletter',
    EmailTags: [{ Name: 'mailout', Value: 'm-42' }],
    Content: {
      Simple: {
        Subject: { Data: 'Grüße aus Köln 🎉', Charset: 'UTF-8' },
        Body: { Html: { Data: '<p>Hallo <b>Welt</b></p>', Charset: 'UTF-8' }, Text: { Data: 'Hallo Welt', Charset: 'UTF-8' } },
        Headers: [
          { Name: 'List-Unsubscribe', Value: '<https://mailout.example.com/api/unsubscribe?t=abc>' },
          { Name: 'List-Unsubscribe-Post', Value: 'List-Unsubscribe=One-Click' },
          { Name: 'Precedence', Value: 'bulk' },
        ],
      },
    },
  });

describe('createSesClient', () => {
  it('sends a SESv2 SendEmail with headers, tags and UTF-8 content to SES_ENDPOINT, signed with the configured keys', async () => {
    const client = createSesClient({
      aws: { region: 'eu-west-1', endpoint: ses.url, credentials: { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'secret-example' } },
    });
    const out = await client.send(newsletter('reader@example.com'));
    client.destroy();

    expect(ses.sent).toHaveLength(1);
    const call = ses.sent[0]!;
    expect(out.MessageId).toBeTruthy();
    expect(call.outcome).toEqual({ status: 200, messageId: out.MessageId });
    expect(call).toMatchObject({
      from: 'Zoë News <news@example.com>',
      to: ['reader@example.com'],
      subject: 'Grüße aus Köln 🎉',
      html: '<p>Hallo <b>Welt</b></p>',
      text: 'Hallo Welt',
      configurationSet: 'newsletter',
      tags: { mailout: 'm-42' },
      headers: {
        'List-Unsubscribe': '<https://mailout.example.com/api/unsubscribe?t=abc>',
        'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
        Precedence: 'bulk',
      },
    });
    expect(call.body.ReplyToAddresses).toEqual(['editor@example.com']);
    expect(call.requestHeaders.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE\/\d{8}\/eu-west-1\/ses\/aws4_request/);
  });

  it('uses dummy keys against an endpoint override when none are configured (never the default chain)', async () => {
    const client = createSesClient({ aws: { region: 'eu-west-1', endpoint: ses.url } });
    await client.send(newsletter('reader@example.com'));
    client.destroy();
    expect(ses.sent[0]!.requestHeaders.authorization).toContain('Credential=local/');
    expect(hasEndpointOverride(client)).toBe(true);
  });

  it('does not point at an endpoint override without SES_ENDPOINT', () => {
    const client = createSesClient({ aws: { region: 'eu-west-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } } });
    expect(hasEndpointOverride(client)).toBe(false);
    client.destroy();
  });

  it.each(['InternalFailure', 'TooManyRequestsException'] as const)(
    'leaves retries to sendWithRetry: a %s reaches the caller after exactly one request',
    async (error) => {
      const client = createSesClient({ aws: { region: 'eu-west-1', endpoint: ses.url } });
      ses.setFailure({ next: 5, error });
      await expect(client.send(newsletter('reader@example.com'))).rejects.toMatchObject({ name: error });
      expect(ses.calls).toHaveLength(1);
      expect(await client.config.maxAttempts()).toBe(1);
      client.destroy();
    },
  );

  it('gives up on a request SES never answers after the request timeout', async () => {
    const client = createSesClient({ aws: { region: 'eu-west-1', endpoint: ses.url } }, { requestTimeoutMs: 250 });
    ses.setFailure({ next: 1, error: 'hang' });
    await expect(client.send(newsletter('reader@example.com'))).rejects.toMatchObject({ name: 'TimeoutError' });
    client.destroy();
  });

  it('sets a 3 s connection and 10 s request timeout by default', async () => {
    const client = createSesClient({ aws: { region: 'eu-west-1', endpoint: ses.url } });
    await client.send(newsletter('reader@example.com')); // the handler resolves its settings on first use
    const handler = client.config.requestHandler as unknown as { httpHandlerConfigs(): Record<string, unknown> };
    expect(handler.httpHandlerConfigs()).toMatchObject({ connectionTimeout: 3000, requestTimeout: 10000, throwOnRequestTimeout: true });
    client.destroy();
  });
});
