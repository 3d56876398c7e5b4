/**
 * AWS Signature Version 4 of one SendEmail request, as the SDK's SignatureV4 signs it (the same
 * headers, in the same order, the same Authorization; tests/ses/sigv4.test.ts compares the two),
 * without its per-request costs: the SDK clones the request and hashes the credentials to look
 * its signing key up on every request. The signing key (four HMACs) is derived once per UTC day,
 * region, service and credentials, as AWS scopes it
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html).
 * Hashes and HMACs are the client's own `sha256`, as the SDK signer's are.
 */

/** The SDK's hash: an HMAC when given a secret. */
export interface Sha256 {
  update(data: string | Uint8Array): void;
  digest(): Promise<Uint8Array>;
}
export type Sha256Constructor = new (secret?: string | Uint8Array) => Sha256;

export interface SigningCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface SignedRequestParts {
  method: string;
  /** The request path as sent. */
  path: string;
  /** Lower-case names; every one is signed. */
  headers: Record<string, string>;
  body: Buffer;
}

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const escapeUri = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** The canonical URI as the SDK writes it for every service but S3: dot segments resolved, empty ones dropped, the path (already escaped) escaped once more. */
export function canonicalPath(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const normal = `${path.startsWith('/') ? '/' : ''}${segments.join('/')}${segments.length > 0 && path.endsWith('/') ? '/' : ''}`;
  return escapeUri(normal).replace(/%2F/g, '/');
}

/** `20261203T113051Z`: the SDK's ISO 8601 basic form, whole seconds. */
function longDate(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
}

export interface SigV4Signer {
  /** The headers to send: the request's, then x-amz-date, the session token, the payload hash and the Authorization. */
  sign(request: SignedRequestParts, credentials: SigningCredentials, date: Date): Promise<Record<string, string>>;
}

export function createSigV4Signer(region: string, service: string, sha256: Sha256Constructor): SigV4Signer {
  const digest = (data: string | Uint8Array, secret?: string | Uint8Array) => {
    const h = new sha256(secret);
    h.update(data);
    return h.digest();
  };
  let cached: { day: string; credentials: SigningCredentials; key: Uint8Array } | undefined;
  // Every request of a client goes to one path.
  let path: { sent: string; canonical: string } | undefined;
  function canonicalPathOf(sent: string): string {
    if (path?.sent !== sent) path = { sent, canonical: canonicalPath(sent) };
    return path.canonical;
  }
  async function signingKey(day: string, c: SigningCredentials): Promise<Uint8Array> {
    const k = cached;
    if (k && k.day === day && k.credentials.accessKeyId === c.accessKeyId && k.credentials.secretAccessKey === c.secretAccessKey && k.credentials.sessionToken === c.sessionToken) {
      return k.key;
    }
    let key = await digest(day, `AWS4${c.secretAccessKey}`);
    for (const part of [region, service, 'aws4_request']) key = await digest(part, key);
    cached = { day, credentials: { ...c }, key };
    return key;
  }
  return {
    async sign(request, credentials, date) {
      const amzDate = longDate(date);
      const day = amzDate.slice(0, 8);
      const scope = `${day}/${region}/${service}/aws4_request`;
      const payloadHash = hex(await digest(request.body));
      const headers: Record<string, string> = {
        ...request.headers,
        'x-amz-date': amzDate,
        ...(credentials.sessionToken ? { 'x-amz-security-token': credentials.sessionToken } : {}),
        'x-amz-content-sha256': payloadHash,
      };
      const names = Object.keys(headers).sort();
      const canonicalHeaders = names.map((n) => `${n}:${headers[n]!.trim().replace(/\s+/g, ' ')}`).join('\n');
      const signedHeaders = names.join(';');
      const canonicalRequest = `${request.method}\n${canonicalPathOf(request.path)}\n\n${canonicalHeaders}\n\n${signedHeaders}\n${payloadHash}`;
      const stringToSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${hex(await digest(canonicalRequest))}`;
      const signature = hex(await digest(stringToSign, await signingKey(day, credentials)));
      headers.authorization = `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
      return headers;
    },
  };
}
