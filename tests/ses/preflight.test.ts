import { SendEmailCommand, type SESv2Client } from '@aws-sdk/client-sesv2';
import { AppError } from '../../lib/errors';
import { setLogLevel, setLogSink } from '../../lib/log';
import { createSesClient } from '../../lib/ses/client';
import { preflight } from '../../lib/ses/preflight';
import { startFakeSes, type FakeSes } from '../../scripts/fakes/ses';

let ses: FakeSes;
let client: SESv2Client;
let logs: string[];
let restoreSink: (line: string) => void;
const noSleep = async () => undefined;

beforeAll(async () => {
  ses = await startFakeSes();
  client = createSesClient({ aws: { region: 'eu-west-1', endpoint: ses.url } });
});
afterAll(async () => {
  client.destroy();
  await ses.close();
});
beforeEach(() => {
  ses.reset();
  ses.setAccount({});
  ses.setGetAccountError(undefined);
  logs = [];
  restoreSink = setLogSink((line) => logs.push(line));
  setLogLevel('info'); // the notes under test are info-level; the test setup quiets logs to warn
});
afterEach(() => {
  setLogSink(restoreSink);
  setLogLevel('warn');
});

async function refusal(promise: Promise<unknown>): Promise<AppError> {
  const err = await promise.then(
    () => {
      throw new Error('expected the pre-flight to refuse');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

describe('preflight', () => {
  it('retries a GetAccount whose connection dropped after the request left (a read is safe to repeat)', async () => {
    ses.setGetAccountError('reset');
    const before = ses.getAccountCalls;
    await expect(preflight(client, { recipients: 10, requestedRate: 6, sleep: noSleep, endpointOverride: false })).rejects.toThrow();
    expect(ses.getAccountCalls - before).toBe(3);
  });

  it('passes a healthy account and caps the rate at MaxSendRate', async () => {
    ses.setAccount({ SendQuota: { Max24HourSend: 50_000, MaxSendRate: 14, SentLast24Hours: 1_000 } });
    await expect(preflight(client, { recipients: 2_000, requestedRate: 20, sleep: noSleep })).resolves.toMatchObject({
      rate: 14,
      quotaLeft: 49_000,
      sandbox: false,
      local: false,
      enforcementStatus: 'HEALTHY',
    });
    await expect(preflight(client, { recipients: 2_000, requestedRate: 6, sleep: noSleep })).resolves.toMatchObject({ rate: 6 });
  });

  it('refuses with the numbers when the 24-hour quota cannot cover the list', async () => {
    ses.setAccount({ SendQuota: { Max24HourSend: 1_000, MaxSendRate: 14, SentLast24Hours: 800 } });
    const err = await refusal(
      preflight(client, { recipients: 1_000, requestedRate: 6, sleep: noSleep, now: () => Date.parse('2026-03-01T10:00:00Z') }),
    );
    expect(err.code).toBe('precondition_failed');
    expect(err.status).toBe(412);
    expect(err.message).toContain('needs 1,000 sends but only 200 remain in the SES 24-hour quota');
    expect(err.message).toContain('800 of 1,000 used');
    expect(err.message).toContain('2026-03-02T10:00:00.000Z');
    expect(err.details).toMatchObject({ recipients: 1_000, quotaLeft: 200 });
  });

  it('counts sends already made today (SentLast24Hours)', async () => {
    ses.setAccount({ SendQuota: { Max24HourSend: 10, MaxSendRate: 1, SentLast24Hours: 0 } });
    await expect(preflight(client, { recipients: 10, requestedRate: 6, sleep: noSleep })).resolves.toMatchObject({ quotaLeft: 10 });
    const send = new SendEmailCommand({
      FromEmailAddress: 'news@example.com',
      Destination: { ToAddresses: ['a@example.com'] },
      Content: { Simple: { Subject: { Data: 's' }, Body: { Text: { Data: 't' } } } },
    });
    await client.send(send);
    const err = await refusal(preflight(client, { recipients: 10, requestedRate: 6, sleep: noSleep }));
    expect(err.message).toContain('only 9 remain');
  });

  it('treats Max24HourSend = -1 as unlimited', async () => {
    ses.setAccount({ SendQuota: { Max24HourSend: -1, MaxSendRate: 500, SentLast24Hours: 123_456 } });
    await expect(preflight(client, { recipients: 10_000_000, requestedRate: 6, sleep: noSleep })).resolves.toMatchObject({
      quotaLeft: Number.POSITIVE_INFINITY,
      rate: 6,
    });
  });

  it('refuses when sending is disabled', async () => {
    ses.setAccount({ SendingEnabled: false });
    const err = await refusal(preflight(client, { recipients: 1, requestedRate: 6, sleep: noSleep }));
    expect(err.code).toBe('precondition_failed');
    expect(err.message).toMatch(/sending is disabled/i);
  });

  it('refuses a SHUTDOWN account and lets a PROBATION one send with a warning', async () => {
    ses.setAccount({ EnforcementStatus: 'SHUTDOWN' });
    const err = await refusal(preflight(client, { recipients: 1, requestedRate: 6, sleep: noSleep }));
    expect(err.code).toBe('precondition_failed');
    expect(err.message).toContain('SHUTDOWN');

    ses.setAccount({ EnforcementStatus: 'PROBATION' });
    await expect(preflight(client, { recipients: 1, requestedRate: 6, sleep: noSleep })).resolves.toMatchObject({ rate: 6 });
    expect(logs.some((l) => l.includes('ses.preflight.probation'))).toBe(true);
  });

  it('flags the sandbox and warns, without refusing', async () => {
    ses.setAccount({ ProductionAccessEnabled: false, SendQuota: { Max24HourSend: 200, MaxSendRate: 1, SentLast24Hours: 0 } });
    await expect(preflight(client, { recipients: 3, requestedRate: 6, sleep: noSleep })).resolves.toMatchObject({
      sandbox: true,
      rate: 1,
      quotaLeft: 200,
    });
    expect(logs.some((l) => l.includes('ses.preflight.sandbox'))).toBe(true);
  });

  it('takes an unimplemented GetAccount at an endpoint override as local and unlimited, with a logged note', async () => {
    ses.setAccount('unimplemented');
    await expect(preflight(client, { recipients: 1_000_000, requestedRate: 6, sleep: noSleep })).resolves.toEqual({
      rate: 6,
      quotaLeft: Number.POSITIVE_INFINITY,
      sandbox: false,
      local: true,
    });
    expect(logs.some((l) => l.includes('ses.preflight.local'))).toBe(true);
  });

  it('does not take a 404 as "local" when the client talks to real SES', async () => {
    ses.setAccount('unimplemented');
    const err = await refusal(preflight(client, { recipients: 1, requestedRate: 6, sleep: noSleep, endpointOverride: false }));
    expect(err.code).toBe('precondition_failed');
  });

  it('refuses with a clear reason when the credentials are wrong', async () => {
    ses.setGetAccountError('InvalidClientTokenId');
    const err = await refusal(preflight(client, { recipients: 1, requestedRate: 6, sleep: noSleep }));
    expect(err.code).toBe('precondition_failed');
    expect(err.message).toContain('InvalidClientTokenId');
    expect(err.message).toMatch(/credentials/);
  });

  it('retries a throttled or failing GetAccount, then reports SES as unavailable', async () => {
    ses.setGetAccountError('ServiceUnavailable');
    const err = await refusal(preflight(client, { recipients: 1, requestedRate: 6, sleep: noSleep }));
    expect(err.code).toBe('upstream');
    expect(ses.getAccountCalls).toBe(3);
  });
});
