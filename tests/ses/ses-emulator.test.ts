/**
 * The aws-ses-v2-local emulator (the local stack's SES) driven through our own client: what it
 * implements is what `npm start` and the end-to-end tests can rely on.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SendEmailCommand, type SESv2Client } from '@aws-sdk/client-sesv2';
import startEmulator from 'aws-ses-v2-local';
import { setLogSink } from '../../lib/log';
import { createSesClient } from '../../lib/ses/client';
import { classifySesError } from '../../lib/ses/errors';
import { preflight } from '../../lib/ses/preflight';

interface StoredEmail {
  messageId: string;
  from: string;
  destination: { to: string[]; cc: string[]; bcc: string[] };
  subject: string;
  body: { html?: string; text?: string };
  headers?: Array<{ name: string; value: string }>;
  at: number;
}

let emulator: Server;
let url: string;
let client: SESv2Client;
let restoreSink: (line: string) => void;
const savedAccount = process.env.AWS_SES_ACCOUNT;

/** A GetAccount answer the emulator accepts: it validates every one of these fields. */
const fullAccount = (quota: { Max24HourSend: number; MaxSendRate: number; SentLast24Hours: number }) => ({
  DedicatedIpAutoWarmupEnabled: false,
  Details: {
    AdditionalContactEmailAddresses: [],
    ContactLanguage: 'EN',
    MailType: 'MARKETING',
    ReviewDetails: { CaseId: '1', Status: 'GRANTED' },
    UseCaseDescription: 'Newsletter',
    WebsiteURL: 'https://example.com',
  },
  EnforcementStatus: 'HEALTHY',
  ProductionAccessEnabled: true,
  SendingEnabled: true,
  SendQuota: quota,
  SuppressionAttributes: { SuppressedReasons: [] },
});

beforeAll(async () => {
  delete process.env.AWS_SES_ACCOUNT;
  emulator = await startEmulator({ host: '127.0.0.1', port: 0 });
  url = `http://127.0.0.1:${(emulator.address() as AddressInfo).port}`;
  client = createSesClient({ aws: { region: 'eu-west-1', endpoint: url } });
  restoreSink = setLogSink(() => undefined);
});
afterAll(async () => {
  setLogSink(restoreSink);
  if (savedAccount === undefined) delete process.env.AWS_SES_ACCOUNT;
  else process.env.AWS_SES_ACCOUNT = savedAccount;
  client.destroy();
  emulator.closeAllConnections();
  await new Promise<void>((r) => emulator.close(() => r()));
});

describe('aws-ses-v2-local through createSesClient', () => {
  it('accepts a SESv2 SendEmail with custom headers and shows it at GET /store', async () => {
    await fetch(`${url}/clear-store`, { method: 'POST' });
    const out = await client.send(
      new SendEmailCommand({
        FromEmailAddress: 'news@example.com',
        Destination: { ToAddresses: ['reader@example.com'] },
        ConfigurationSetName: 'newsletter',
        EmailTags: [{ Name: 'mailout', Value: 'm-1' }],
        Content: {
          Simple: {
            Subject: { Data: 'Grüße', Charset: 'UTF-8' },
            Body: { Html: { Data: '<p>Hallo</p>' }, Text: { Data: 'Hallo' } },
            Headers: [
              { Name: 'List-Unsubscribe', Value: '<https://example.com/u?t=1>' },
              { Name: 'List-Unsubscribe-Post', Value: 'List-Unsubscribe=One-Click' },
            ],
          },
        },
      }),
    );
    expect(out.MessageId).toMatch(/^ses-\d+$/);

    const store = (await (await fetch(`${url}/store`)).json()) as { emails: StoredEmail[] };
    expect(store.emails).toHaveLength(1);
    expect(store.emails[0]).toMatchObject({
      messageId: out.MessageId,
      from: 'news@example.com',
      destination: { to: ['reader@example.com'], cc: [], bcc: [] },
      subject: 'Grüße',
      body: { html: '<p>Hallo</p>', text: 'Hallo' },
      headers: [
        { name: 'List-Unsubscribe', value: '<https://example.com/u?t=1>' },
        { name: 'List-Unsubscribe-Post', value: 'List-Unsubscribe=One-Click' },
      ],
    });
    // EmailTags and ConfigurationSetName are accepted but not kept.
    expect(JSON.stringify(store.emails[0])).not.toContain('newsletter');

    const since = Math.floor(Date.now() / 1000) + 3600;
    const later = (await (await fetch(`${url}/store?since=${since}`)).json()) as { emails: StoredEmail[] };
    expect(later.emails).toHaveLength(0);
  });

  it('answers an invalid SendEmail with a 400 our classifier pauses on (it would fail every recipient)', async () => {
    const err = await client
      .send(
        new SendEmailCommand({
          FromEmailAddress: 'news@example.com',
          Destination: { ToAddresses: ['reader@example.com'] },
          Content: { Simple: { Subject: { Data: '' }, Body: { Text: { Data: 'x' } } } },
        }),
      )
      .catch((e: unknown) => e);
    expect(classifySesError(err)).toMatchObject({ kind: 'account', status: 400, code: 'HTTP_400' });
  });

  it('without AWS_SES_ACCOUNT, GetAccount fails and the pre-flight assumes a local, unlimited SES', async () => {
    delete process.env.AWS_SES_ACCOUNT;
    await expect(preflight(client, { recipients: 5_000, requestedRate: 6 })).resolves.toMatchObject({
      local: true,
      rate: 6,
      quotaLeft: Number.POSITIVE_INFINITY,
    });
  });

  it('with a complete AWS_SES_ACCOUNT, GetAccount answers and the pre-flight applies it', async () => {
    process.env.AWS_SES_ACCOUNT = JSON.stringify(fullAccount({ Max24HourSend: 200, MaxSendRate: 1, SentLast24Hours: 150 }));
    await expect(preflight(client, { recipients: 50, requestedRate: 6 })).resolves.toMatchObject({
      local: false,
      rate: 1,
      quotaLeft: 50,
    });
    await expect(preflight(client, { recipients: 51, requestedRate: 6 })).rejects.toMatchObject({ code: 'precondition_failed' });
    delete process.env.AWS_SES_ACCOUNT;
  });
});
