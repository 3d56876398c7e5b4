/**
 * A fake Amazon SNS signer, faked only at its HTTP boundary.
 *
 *   const sns = createSnsSigner();          // fresh RSA key + self-signed X.509 certificate
 *   const body = JSON.stringify(sns.notification({ Message: JSON.stringify(sesEvent) }));
 *   await handleSnsRequest(body, { db, config, fetchCertificate: sns.fetchStub });
 *
 * - `certUrl` is an SNS-shaped URL (https://sns.<region>.amazonaws.com/SimpleNotificationService-<32>.pem);
 *   `fetchStub(url, signal)` serves `certPem` for exactly that URL (and counts calls in
 *   `fetchStub.calls`), throws for any other — a stand-in for the HTTPS download.
 * - `sign(envelope, version)` signs exactly as SNS does: the canonical string of the
 *   message type (`Key\nValue\n` for Message, MessageId, Subject?, Timestamp, TopicArn, Type
 *   on a Notification; Message, MessageId, SubscribeURL, Timestamp, Token, TopicArn, Type on
 *   the two confirmations), SHA1withRSA for SignatureVersion 1, SHA256withRSA for 2, base64.
 * - `notification()`, `subscriptionConfirmation()`, `unsubscribeConfirmation()` build signed
 *   envelopes with SNS's fields (fresh MessageId unless given).
 *
 * The certificate is made with node-forge (node:crypto cannot issue certificates), so the
 * tests need nothing but `npm ci`.
 */
import { createSign, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import forge from 'node-forge';

export type SignatureVersion = '1' | '2';

export interface SnsEnvelopeFields {
  Type: 'Notification' | 'SubscriptionConfirmation' | 'UnsubscribeConfirmation';
  MessageId: string;
  TopicArn: string;
  Message: string;
  Timestamp: string;
  Subject?: string;
  Token?: string;
  SubscribeURL?: string;
  UnsubscribeURL?: string;
  SignatureVersion?: string;
  Signature?: string;
  SigningCertURL?: string;
}

export interface CertFetchStub {
  (url: string, signal?: AbortSignal): Promise<string>;
  calls: string[];
}

export interface SnsSigner {
  region: string;
  topicArn: string;
  certUrl: string;
  certPem: string;
  privateKeyPem: string;
  fetchStub: CertFetchStub;
  sign<T extends SnsEnvelopeFields>(envelope: T, version?: SignatureVersion): T & { SignatureVersion: string; Signature: string; SigningCertURL: string };
  notification(fields: Partial<SnsEnvelopeFields> & { Message: string }, version?: SignatureVersion): SnsEnvelopeFields;
  subscriptionConfirmation(fields?: Partial<SnsEnvelopeFields>, version?: SignatureVersion): SnsEnvelopeFields;
  unsubscribeConfirmation(fields?: Partial<SnsEnvelopeFields>, version?: SignatureVersion): SnsEnvelopeFields;
}

const SIGNED: Record<SnsEnvelopeFields['Type'], (keyof SnsEnvelopeFields)[]> = {
  Notification: ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'],
  SubscriptionConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
  UnsubscribeConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
};

/** The canonical string SNS signs. */
export function snsStringToSign(envelope: SnsEnvelopeFields): string {
  let out = '';
  // An unknown Type (tests of refusals) is signed like a Notification.
  for (const key of SIGNED[envelope.Type] ?? SIGNED.Notification) {
    const v = envelope[key];
    if (v !== undefined && v !== null) out += `${key}\n${v}\n`;
  }
  return out;
}

/** A self-signed certificate for `privateKeyPem`, valid from yesterday for `days`. */
export function selfSignedCertificate(privateKeyPem: string, publicKeyPem: string, commonName = 'sns.amazonaws.com', days = 365): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  cert.serialNumber = '01' + randomBytes(8).toString('hex');
  cert.validity.notBefore = new Date(Date.now() - 24 * 3600 * 1000);
  cert.validity.notAfter = new Date(Date.now() + days * 24 * 3600 * 1000);
  const attrs = [{ name: 'commonName', value: commonName }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.sign(forge.pki.privateKeyFromPem(privateKeyPem) as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

export function createRsaKey(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

export function createSnsSigner(opts: { region?: string; topicName?: string; accountId?: string } = {}): SnsSigner {
  const region = opts.region ?? 'eu-west-1';
  const topicArn = `arn:aws:sns:${region}:${opts.accountId ?? '123456789012'}:${opts.topicName ?? 'ses-feedback'}`;
  const certUrl = `https://sns.${region}.amazonaws.com/SimpleNotificationService-${randomBytes(16).toString('hex')}.pem`;
  const { privateKeyPem, publicKeyPem } = createRsaKey();
  const certPem = selfSignedCertificate(privateKeyPem, publicKeyPem);

  const fetchStub = (async (url: string) => {
    fetchStub.calls.push(url);
    if (url !== certUrl) throw new Error(`fetchStub: no certificate at ${url}`);
    return certPem;
  }) as CertFetchStub;
  fetchStub.calls = [];

  const sign: SnsSigner['sign'] = (envelope, version = '1') => {
    const withCert = { ...envelope, SignatureVersion: version, SigningCertURL: envelope.SigningCertURL ?? certUrl };
    const signer = createSign(version === '1' ? 'RSA-SHA1' : 'RSA-SHA256');
    signer.update(snsStringToSign(withCert), 'utf8');
    return { ...withCert, Signature: signer.sign(privateKeyPem, 'base64') };
  };

  const now = () => new Date().toISOString();

  return {
    region,
    topicArn,
    certUrl,
    certPem,
    privateKeyPem,
    fetchStub,
    sign,
    notification(fields, version = '1') {
      const messageId = fields.MessageId ?? randomUUID();
      return sign(
        {
          Type: 'Notification',
          MessageId: messageId,
          TopicArn: topicArn,
          Timestamp: now(),
          UnsubscribeURL: `https://sns.${region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=${topicArn}:${randomUUID()}`,
          ...fields,
        },
        version,
      );
    },
    subscriptionConfirmation(fields = {}, version = '1') {
      const token = randomBytes(64).toString('hex');
      const arn = fields.TopicArn ?? topicArn;
      return sign(
        {
          Type: 'SubscriptionConfirmation',
          MessageId: randomUUID(),
          Token: token,
          TopicArn: arn,
          Message: `You have chosen to subscribe to the topic ${arn}.\nTo confirm the subscription, visit the SubscribeURL included in this message.`,
          SubscribeURL: `https://sns.${region}.amazonaws.com/?Action=ConfirmSubscription&TopicArn=${arn}&Token=${token}`,
          Timestamp: now(),
          ...fields,
        },
        version,
      );
    },
    unsubscribeConfirmation(fields = {}, version = '1') {
      const token = randomBytes(64).toString('hex');
      const arn = fields.TopicArn ?? topicArn;
      return sign(
        {
          Type: 'UnsubscribeConfirmation',
          MessageId: randomUUID(),
          Token: token,
          TopicArn: arn,
          Message: `You have chosen to deactivate subscription ${arn}:${randomUUID()}.\nTo cancel this operation and restore the subscription, visit the SubscribeURL included in this message.`,
          SubscribeURL: `https://sns.${region}.amazonaws.com/?Action=ConfirmSubscription&TopicArn=${arn}&Token=${token}`,
          Timestamp: now(),
          ...fields,
        },
        version,
      );
    },
  };
}
