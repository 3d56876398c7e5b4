import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SendEmailCommand, type SESv2Client } from '@aws-sdk/client-sesv2';
import { createSesClient } from '../../lib/ses/client';
import { classifySesError, SesError, type SesErrorInfo } from '../../lib/ses/errors';
import { SES_ERRORS, startFakeSes, type FakeSes, type FailureSpec, type SesErrorName } from '../../scripts/fakes/ses';

const FROM = 'news@example.com';

function email(to: string) {
  return new SendEmailCommand({
    FromEmailAddress: FROM,
    Destination: { ToAddresses: [to] },
    Content: { Simple: { Subject: { Data: 'Hello' }, Body: { Text: { Data: 'Hi' } } } },
  });
}

let ses: FakeSes;
let client: SESv2Client;
/** A short request timeout only where the fake never answers: an answer that is merely late (a busy machine) must not time out. */
let hangingClient: SESv2Client;

beforeAll(async () => {
  ses = await startFakeSes();
  client = createSesClient({ aws: { region: 'eu-west-1', endpoint: ses.url } });
  hangingClient = createSesClient({ aws: { region: 'eu-west-1', endpoint: ses.url } }, { requestTimeoutMs: 300 });
});
afterAll(async () => {
  client.destroy();
  hangingClient.destroy();
  await ses.close();
});
beforeEach(() => ses.reset());

/** What the real SDK throws when the fake answers the next SendEmail with `failure`, classified. */
async function classifyVia(failure: FailureSpec, to = 'reader@example.com'): Promise<SesErrorInfo> {
  ses.setFailure({ next: 1, error: failure });
  const err = await (failure === 'hang' ? hangingClient : client).send(email(to)).then(
    () => {
      throw new Error('expected the send to fail');
    },
    (e: unknown) => e,
  );
  return classifySesError(err, { fromEmail: FROM });
}

describe('classifySesError on the errors the SDK really throws (over HTTP)', () => {
  const table: Array<[SesErrorName, SesErrorInfo['kind'], string, boolean]> = [
    // name, kind, code, throttled
    ['TooManyRequestsException', 'retry', 'TooManyRequestsException', true],
    ['Throttling', 'retry', 'Throttling', true],
    ['InternalFailure', 'retry', 'InternalFailure', false],
    ['ServiceUnavailable', 'retry', 'ServiceUnavailable', false],
    ['MessageRejected', 'recipient', 'MessageRejected', false],
    ['InvalidRecipientAddress', 'recipient', 'BadRequestException', false],
    ['DailyQuotaExceeded', 'account', 'TooManyRequestsException', false],
    ['AccountSuspendedException', 'account', 'AccountSuspendedException', false],
    ['SendingPausedException', 'account', 'SendingPausedException', false],
    ['MailFromDomainNotVerifiedException', 'account', 'MailFromDomainNotVerifiedException', false],
    ['LimitExceededException', 'account', 'LimitExceededException', false],
    ['NotFoundException', 'account', 'NotFoundException', false],
    ['InvalidClientTokenId', 'account', 'InvalidClientTokenId', false],
    ['SignatureDoesNotMatch', 'account', 'SignatureDoesNotMatch', false],
    ['AccessDeniedException', 'account', 'AccessDeniedException', false],
  ];

  it.each(table)('%s → %s', async (name, kind, code, throttled) => {
    const info = await classifyVia(name);
    expect(info).toMatchObject({ kind, code, throttled, status: SES_ERRORS[name].status });
    expect(info.message).toContain(SES_ERRORS[name].message.split('{to}')[0]!.slice(0, 30));
  });

  it('reads a Retry-After header on throttling', async () => {
    const info = await classifyVia({ ...SES_ERRORS.TooManyRequestsException, headers: { 'Retry-After': '2' } });
    expect(info).toMatchObject({ kind: 'retry', throttled: true, retryAfterMs: 2000 });
  });

  it('treats a rejection that names the sender as account-level (unverified From in the sandbox)', async () => {
    const info = await classifyVia({
      status: 400,
      type: 'MessageRejected',
      message: `Email address is not verified. The following identities failed the check in region EU-WEST-1: ${FROM}`,
    });
    expect(info).toMatchObject({ kind: 'account', code: 'MessageRejected' });
  });

  it('treats a bad request that is not about an address as account-level (it would fail every recipient)', async () => {
    const info = await classifyVia({ status: 400, type: 'BadRequestException', message: 'Header List-Unsubscribe-Post is malformed' });
    expect(info).toMatchObject({ kind: 'account', code: 'BadRequestException' });
  });

  it('a dropped connection is retryable, and may have reached SES', async () => {
    const info = await classifyVia('reset');
    expect(info).toMatchObject({ kind: 'retry', maybeDelivered: true });
    expect(info.status).toBeUndefined();
  });

  it('a request that times out is retryable, and may have reached SES', async () => {
    const info = await classifyVia('hang');
    expect(info).toMatchObject({ kind: 'retry', code: 'ETIMEDOUT', maybeDelivered: true });
  });

  it('a refused connection is retryable and certainly did not reach SES', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((r) => closed.close(() => r()));
    const dead = createSesClient({ aws: { region: 'eu-west-1', endpoint: `http://127.0.0.1:${port}` } });
    const err = await dead.send(email('x@example.com')).catch((e: unknown) => e);
    dead.destroy();
    expect(classifySesError(err)).toMatchObject({ kind: 'retry', code: 'ECONNREFUSED', maybeDelivered: false });
  });
});

describe('classifySesError on other inputs', () => {
  it('passes an SesError through unchanged', () => {
    const info: SesErrorInfo = { kind: 'recipient', code: 'MessageRejected', message: 'no', throttled: false, maybeDelivered: false };
    expect(classifySesError(new SesError(info))).toEqual(info);
  });

  it('names an error by its body type when the SDK could not (aws-ses-v2-local sends no x-amzn-errortype)', () => {
    const err = Object.assign(new Error('Bad Request Exception'), {
      name: 'Unknown',
      type: 'BadRequestException',
      detail: 'aws-ses-v2-local: Schema validation failed',
      $metadata: { httpStatusCode: 400 },
    });
    expect(classifySesError(err)).toMatchObject({ kind: 'account', code: 'BadRequestException', status: 400 });
  });

  it('stops the mailout on an unexpected non-SES error rather than failing or retrying every recipient', () => {
    expect(classifySesError(new TypeError('x is not a function'))).toMatchObject({ kind: 'account', code: 'TypeError' });
    expect(classifySesError('weird')).toMatchObject({ kind: 'account' });
  });

  it('treats missing credentials as account-level', () => {
    const err = Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' });
    expect(classifySesError(err)).toMatchObject({ kind: 'account', code: 'CredentialsProviderError' });
  });

  it('a 504 from a gateway is retryable but may have reached SES; a 500 did not', () => {
    const gw = Object.assign(new Error('Gateway Timeout'), { name: 'Unknown', $metadata: { httpStatusCode: 504 } });
    expect(classifySesError(gw)).toMatchObject({ kind: 'retry', code: 'HTTP_504', maybeDelivered: true });
    const isf = Object.assign(new Error('x'), { name: 'InternalFailure', $metadata: { httpStatusCode: 500 } });
    expect(classifySesError(isf)).toMatchObject({ kind: 'retry', maybeDelivered: false });
  });
});
