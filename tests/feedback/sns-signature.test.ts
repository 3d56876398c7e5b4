import Validator from 'sns-payload-validator';
import {
  certificateCacheFor,
  isSnsCertUrl,
  isSnsSubscribeUrl,
  parseSnsEnvelope,
  stringToSign,
  verifySnsEnvelope,
  type CertificateFetcher,
  type SnsEnvelope,
} from '../../lib/feedback/sns';
import { AppError } from '../../lib/errors';
import { createRsaKey, createSnsSigner, selfSignedCertificate, snsStringToSign } from '../../scripts/fakes/sns';
import docsNotification from './fixtures/sns-notification.json';
import docsSubscription from './fixtures/sns-subscription-confirmation.json';
import docsUnsubscribe from './fixtures/sns-unsubscribe-confirmation.json';

const sns = createSnsSigner();

/** sns-payload-validator (the maintained package) with the test certificate in its cache: an independent check of the fake signer. */
function independentValidator(): Validator {
  const v = new Validator({ useCache: true });
  (v as unknown as { certCache: { set(k: string, v: string): void } }).certCache.set(sns.certUrl, sns.certPem);
  return v;
}

const docsSamples = [
  ['Notification', docsNotification],
  ['SubscriptionConfirmation', docsSubscription],
  ['UnsubscribeConfirmation', docsUnsubscribe],
] as const;

describe.each(['1', '2'] as const)('SignatureVersion %s', (version) => {
  test.each(docsSamples)('the fake signer signs a %s exactly as SNS does (sns-payload-validator accepts it)', async (_type, sample) => {
    const { Signature: _s, SigningCertURL: _u, ...unsigned } = sample;
    const signed = sns.sign(unsigned as never, version);
    await expect(independentValidator().validate(JSON.stringify(signed))).resolves.toMatchObject({ MessageId: sample.MessageId });
  });

  test.each(docsSamples)('our verifier accepts a signed %s and refuses it once any signed field changes', async (_type, sample) => {
    const { Signature: _s, SigningCertURL: _u, ...unsigned } = sample;
    const signed = sns.sign(unsigned as never, version) as unknown as SnsEnvelope;
    const cache = certificateCacheFor(sns.fetchStub);
    await expect(verifySnsEnvelope(parseSnsEnvelope(JSON.stringify(signed)), cache)).resolves.toBeUndefined();
    for (const key of ['Message', 'MessageId', 'Timestamp', 'TopicArn'] as const) {
      const altered = { ...signed, [key]: `${signed[key]}x` };
      await expect(verifySnsEnvelope(altered, cache)).rejects.toMatchObject({ code: 'unauthorized' });
    }
  });
});

test('the string to sign follows the AWS key order and leaves out an absent Subject', () => {
  const { Signature: _s, SigningCertURL: _u, Subject: _subject, ...noSubject } = docsNotification;
  expect(stringToSign({ ...noSubject, Type: 'Notification' } as SnsEnvelope)).toBe(
    `Message\nHello world!\nMessageId\n${docsNotification.MessageId}\nTimestamp\n${docsNotification.Timestamp}\nTopicArn\n${docsNotification.TopicArn}\nType\nNotification\n`,
  );
  expect(stringToSign(docsSubscription as unknown as SnsEnvelope)).toBe(snsStringToSign(docsSubscription as never));
  expect(stringToSign({ ...docsSubscription, Message: 'one line' } as unknown as SnsEnvelope).split('\n').filter((_, i) => i % 2 === 0)).toEqual([
    'Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type', '',
  ]);
});

test('a SHA256 signature presented as SignatureVersion 1 (and the reverse) does not verify', async () => {
  const cache = certificateCacheFor(sns.fetchStub);
  const v2 = sns.notification({ Message: 'hello' }, '2') as unknown as SnsEnvelope;
  await expect(verifySnsEnvelope({ ...v2, SignatureVersion: '1' }, cache)).rejects.toMatchObject({ code: 'unauthorized' });
  const v1 = sns.notification({ Message: 'hello' }, '1') as unknown as SnsEnvelope;
  await expect(verifySnsEnvelope({ ...v1, SignatureVersion: '2' }, cache)).rejects.toMatchObject({ code: 'unauthorized' });
});

test('only SNS certificate URLs are accepted, the same pattern sns-payload-validator uses', () => {
  expect(isSnsCertUrl('https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem')).toBe(true);
  expect(isSnsCertUrl('https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem')).toBe(true);
  for (const bad of [
    'http://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem',
    'https://sns.us-west-2.amazonaws.com.evil.example/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem',
    'https://evil.example/sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem',
    'https://sns.us-west-2.amazonaws.com:8443/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem',
    'https://user@sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem',
    'https://s3.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem',
    'https://sns.us-west-2.amazonaws.com/other.pem',
    'https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem?x=1',
    '',
  ]) {
    expect({ url: bad, ok: isSnsCertUrl(bad) }).toEqual({ url: bad, ok: false });
  }
  expect(isSnsSubscribeUrl(docsSubscription.SubscribeURL)).toBe(true);
  expect(isSnsSubscribeUrl('https://evil.example/?Action=ConfirmSubscription')).toBe(false);
  expect(isSnsSubscribeUrl('http://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription')).toBe(false);
  expect(isSnsSubscribeUrl('https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe')).toBe(false);
});

test('a certificate is fetched once and then served from the cache; concurrent first uses share one download', async () => {
  const signer = createSnsSigner();
  const cache = certificateCacheFor(signer.fetchStub);
  const envelopes = Array.from({ length: 20 }, (_, i) => signer.notification({ Message: `m${i}` }) as unknown as SnsEnvelope);
  await Promise.all(envelopes.map((e) => verifySnsEnvelope(e, cache)));
  await verifySnsEnvelope(signer.notification({ Message: 'later' }) as unknown as SnsEnvelope, cache);
  expect(signer.fetchStub.calls).toEqual([signer.certUrl]);
});

test('a certificate download that hangs fails after the timeout (upstream: SNS retries); the failure is remembered briefly (10 s, shorter than the 20 s SNS waits between retries), then tried again', async () => {
  let calls = 0;
  let aborts = 0;
  let now = 1_000_000;
  const hanging: CertificateFetcher = (_url, signal) => {
    calls += 1;
    return new Promise((_, reject) =>
      signal.addEventListener('abort', () => {
        aborts += 1;
        reject(new Error('aborted'));
      }),
    );
  };
  const cache = certificateCacheFor(hanging, { timeoutMs: 100, now: () => now });
  const err = await verifySnsEnvelope(sns.notification({ Message: 'x' }) as unknown as SnsEnvelope, cache).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(AppError);
  expect((err as AppError).code).toBe('upstream');
  // The download never answers: only the timeout's abort ends it (not a wall-clock bound).
  expect(aborts).toBe(1);
  const again = await verifySnsEnvelope(sns.notification({ Message: 'y' }) as unknown as SnsEnvelope, cache).catch((e: unknown) => e);
  expect(again).toMatchObject({ code: 'upstream' });
  expect(calls).toBe(1);
  now += 9_000;
  await verifySnsEnvelope(sns.notification({ Message: 'z' }) as unknown as SnsEnvelope, cache).catch(() => undefined);
  expect(calls).toBe(1);
  now += 2_000;
  await verifySnsEnvelope(sns.notification({ Message: 'z' }) as unknown as SnsEnvelope, cache).catch(() => undefined);
  expect(calls).toBe(2);
});

test('unsigned junk naming a failing SNS-shaped certificate URL is fetched once, not on every request', async () => {
  const fetched: string[] = [];
  const failing: CertificateFetcher = async (url) => {
    fetched.push(url);
    throw new Error('HTTP 404');
  };
  const cache = certificateCacheFor(failing);
  const junk = { ...(sns.notification({ Message: 'junk' }) as unknown as SnsEnvelope), Signature: 'AAAA' };
  for (let i = 0; i < 10; i++) {
    await expect(verifySnsEnvelope(junk, cache)).rejects.toMatchObject({ code: 'upstream' });
  }
  expect(fetched).toHaveLength(1);
});

test('certificate downloads are bounded per minute whatever the URL: beyond the bound nothing is fetched', async () => {
  let now = 5_000_000;
  const fetched: string[] = [];
  const failing: CertificateFetcher = async (url) => {
    fetched.push(url);
    throw new Error('HTTP 404');
  };
  const cache = certificateCacheFor(failing, { maxFetchesPerMinute: 5, now: () => now });
  const urlN = (i: number) => `https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-${String(i).padStart(32, '0')}.pem`;
  const envelope = (i: number) => ({ ...(sns.notification({ Message: 'junk' }) as unknown as SnsEnvelope), SigningCertURL: urlN(i), Signature: 'AAAA' });
  const errors: unknown[] = [];
  for (let i = 0; i < 12; i++) errors.push(await verifySnsEnvelope(envelope(i), cache).catch((e: unknown) => e));
  expect(fetched).toHaveLength(5);
  expect(errors.every((e) => e instanceof AppError && e.code === 'upstream')).toBe(true);
  expect(String((errors[11] as AppError).message)).toMatch(/Too many SNS signing certificate downloads/);
  now += 60_001;
  await verifySnsEnvelope(envelope(100), cache).catch(() => undefined);
  expect(fetched).toHaveLength(6);
});

test('a download that is not a PEM certificate is refused', async () => {
  const cache = certificateCacheFor(async () => '<html>not a cert</html>');
  await expect(verifySnsEnvelope(sns.notification({ Message: 'x' }) as unknown as SnsEnvelope, cache)).rejects.toMatchObject({ code: 'upstream' });
});

test('an expired certificate is refused even though the signature matches its key', async () => {
  const { privateKeyPem, publicKeyPem } = createRsaKey();
  const expired = selfSignedCertificate(privateKeyPem, publicKeyPem, 'sns.amazonaws.com', -2);
  const fetcher: CertificateFetcher = async () => expired;
  const { createSign } = await import('node:crypto');
  const env = sns.notification({ Message: 'x' }) as unknown as SnsEnvelope;
  const s = createSign('RSA-SHA1');
  s.update(stringToSign(env));
  const signed = { ...env, Signature: s.sign(privateKeyPem, 'base64') };
  await expect(verifySnsEnvelope(signed, certificateCacheFor(fetcher))).rejects.toMatchObject({ code: 'unauthorized' });
});

test('malformed envelopes are 400s with a reason', () => {
  const bad = (text: string) => {
    try {
      parseSnsEnvelope(text);
      return 'accepted';
    } catch (e) {
      return (e as AppError).code;
    }
  };
  expect(bad('')).toBe('bad_request');
  expect(bad('   ')).toBe('bad_request');
  expect(bad('not json')).toBe('bad_request');
  expect(bad('[]')).toBe('bad_request');
  expect(bad('null')).toBe('bad_request');
  expect(bad(JSON.stringify({ ...docsNotification, Type: 'Whatever' }))).toBe('bad_request');
  expect(bad(JSON.stringify({ ...docsNotification, MessageId: undefined }))).toBe('bad_request');
  expect(bad(JSON.stringify({ ...docsNotification, SignatureVersion: '3' }))).toBe('bad_request');
  expect(bad(JSON.stringify({ ...docsSubscription, SubscribeURL: undefined }))).toBe('bad_request');
  expect(bad(JSON.stringify(docsNotification))).toBe('accepted');
});
