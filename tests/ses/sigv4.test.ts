import { createSesClient } from '../../lib/ses';
import { canonicalPath, createSigV4Signer, type Sha256Constructor, type SigningCredentials } from '../../lib/ses/sigv4';

/**
 * lib/ses/sigv4.ts signs a SendEmail request exactly as the SDK's own SigV4 signer (the one
 * the SESv2 client builds) does: the same headers in the same order, the same Authorization,
 * whatever the day, the region, the path or the credentials; its cached signing key never
 * outlives the UTC day or the credentials it was derived from.
 */
const KEYS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
/** The SESv2 client's own hash, as lib/ses/send-email.ts passes it. */
const sha256 = (createSesClient({ aws: { region: 'eu-west-1', endpoint: 'http://127.0.0.1:9', credentials: KEYS } }).config as unknown as { sha256: Sha256Constructor }).sha256;

async function sdkHeaders(credentials: SigningCredentials, region: string, path: string, body: Buffer, date: Date): Promise<Record<string, string>> {
  const client = createSesClient({ aws: { region, endpoint: 'http://127.0.0.1:9', credentials } });
  const cfg = client.config as unknown as {
    signer: (s: Record<string, unknown>) => Promise<{ sign(r: unknown, o: { signingDate: Date }): Promise<{ headers: Record<string, string> }> }>;
  };
  const signer = await cfg.signer({ name: 'sigv4', signingName: 'ses', signingRegion: region, properties: {} });
  const request = { method: 'POST', protocol: 'https:', hostname: 'email.example', path, query: {}, headers: headersOf(body), body };
  const signed = await signer.sign(request, { signingDate: date });
  client.destroy();
  return signed.headers;
}

const headersOf = (body: Buffer) => ({ host: 'email.example:443', 'content-type': 'application/json', 'content-length': String(body.length) });
const ordered = (h: Record<string, string>) => Object.entries(h);

describe('createSigV4Signer', () => {
  const body = Buffer.from(JSON.stringify({ Content: { Simple: { Subject: { Data: 'Привет ✉️' } } } }), 'utf8');

  it.each([
    ['eu-west-1', '/v2/email/outbound-emails', KEYS],
    ['us-east-1', '/base/./v2//email/outbound-emails/', { ...KEYS, sessionToken: 'TOKEN/with+chars==' }],
    ['ap-south-1', "/a b/(x)!*'/v2/email/outbound-emails", KEYS],
  ])('%s %s: the headers the SDK signer gives, in its order', async (region, path, credentials) => {
    const date = new Date('2026-12-03T11:30:51.789Z');
    const ours = await createSigV4Signer(region, 'ses', sha256).sign({ method: 'POST', path, headers: headersOf(body), body }, credentials, date);
    expect(ordered(ours)).toEqual(ordered(await sdkHeaders(credentials, region, path, body, date)));
  });

  it('a signing key derived before midnight UTC is not used after it', async () => {
    const signer = createSigV4Signer('eu-west-1', 'ses', sha256);
    const path = '/v2/email/outbound-emails';
    for (const iso of ['2026-12-03T23:59:59.900Z', '2026-12-04T00:00:00.100Z', '2026-12-04T23:00:00.000Z', '2026-12-03T12:00:00.000Z']) {
      const date = new Date(iso);
      const ours = await signer.sign({ method: 'POST', path, headers: headersOf(body), body }, KEYS, date);
      expect(ours.authorization).toBe((await sdkHeaders(KEYS, 'eu-west-1', path, body, date)).authorization);
    }
  });

  it('a signing key is not used for other credentials (rotated keys, a new session token)', async () => {
    const signer = createSigV4Signer('eu-west-1', 'ses', sha256);
    const path = '/v2/email/outbound-emails';
    const date = new Date('2026-12-03T10:00:00Z');
    const rotations: SigningCredentials[] = [
      KEYS,
      { ...KEYS, secretAccessKey: `${KEYS.secretAccessKey}2` },
      { ...KEYS, secretAccessKey: `${KEYS.secretAccessKey}2`, sessionToken: 'ONE' },
      { ...KEYS, secretAccessKey: `${KEYS.secretAccessKey}2`, sessionToken: 'TWO' },
      { accessKeyId: 'AKIDOTHER', secretAccessKey: KEYS.secretAccessKey },
      KEYS,
    ];
    for (const c of rotations) {
      const ours = await signer.sign({ method: 'POST', path, headers: headersOf(body), body }, c, date);
      expect(ordered(ours)).toEqual(ordered(await sdkHeaders(c, 'eu-west-1', path, body, date)));
    }
  });

  it('a changed body changes the payload hash and the signature', async () => {
    const signer = createSigV4Signer('eu-west-1', 'ses', sha256);
    const date = new Date('2026-12-03T10:00:00Z');
    const a = await signer.sign({ method: 'POST', path: '/p', headers: headersOf(body), body }, KEYS, date);
    const other = Buffer.from(body.toString('utf8').replace('Привет', 'Пока'), 'utf8');
    const b = await signer.sign({ method: 'POST', path: '/p', headers: headersOf(other), body: other }, KEYS, date);
    expect(b['x-amz-content-sha256']).not.toBe(a['x-amz-content-sha256']);
    expect(b.authorization).not.toBe(a.authorization);
  });

  it('canonicalPath: dot segments resolved, empty ones dropped, the path (already escaped) escaped once more', () => {
    expect(canonicalPath('/v2/email/outbound-emails')).toBe('/v2/email/outbound-emails');
    expect(canonicalPath('/a/../b/./c//d/')).toBe('/b/c/d/');
    expect(canonicalPath('/a b/%41')).toBe('/a%20b/%2541');
  });
});
