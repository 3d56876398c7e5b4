import { startFakeSes, type AccountOverrides, type FakeSes } from '../../scripts/fakes/ses';
import { MAX_MESSAGE_BYTES } from '../../scripts/fakes/ses-limits';

/**
 * The SES fake is no kinder than an SES account, by default, with no option set: it enforces the
 * quota it advertises through GetAccount (14 recipients a second, never more than one second's
 * worth at once; 50,000 in 24 hours), counts recipients (To + Cc + Bcc) not messages, refuses a message over SESv2's 40 MB,
 * and answers each refusal as SESv2 does (sources in scripts/fakes/ses-limits.ts). A fake that
 * lets any of this through fails here. Time is the fake's own clock, moved by hand: no sleeps.
 */
let clock = 0;
const fakes: FakeSes[] = [];
async function fake(account?: AccountOverrides): Promise<FakeSes> {
  const ses = await startFakeSes({ now: () => clock, ...(account ? { account } : {}) });
  fakes.push(ses);
  return ses;
}
beforeEach(() => {
  clock = 1_000_000;
});
afterAll(async () => {
  await Promise.all(fakes.map((f) => f.close()));
});

const AUTH = { authorization: 'AWS4-HMAC-SHA256 Credential=local/20261203/us-east-1/ses/aws4_request, Signature=0' };

interface Message {
  to?: number;
  cc?: number;
  bcc?: number;
  html?: string;
}
let seq = 0;
const addresses = (n: number, kind: string) => Array.from({ length: n }, () => `${kind}${(seq += 1)}@example.com`);

async function send(ses: FakeSes, m: Message = {}): Promise<{ status: number; type: string | null; message?: string }> {
  const res = await fetch(`${ses.url}/v2/email/outbound-emails`, {
    method: 'POST',
    headers: { ...AUTH, 'content-type': 'application/json' },
    body: JSON.stringify({
      FromEmailAddress: 'news@example.com',
      Destination: { ToAddresses: addresses(m.to ?? 1, 'to'), CcAddresses: addresses(m.cc ?? 0, 'cc'), BccAddresses: addresses(m.bcc ?? 0, 'bcc') },
      Content: { Simple: { Subject: { Data: 'Письмо' }, Body: { Html: { Data: m.html ?? '<p>Привет</p>' } } } },
    }),
  });
  const body = (await res.json()) as { message?: string };
  return { status: res.status, type: res.headers.get('x-amzn-errortype')?.split(':')[0] ?? null, ...(body.message ? { message: body.message } : {}) };
}

async function sendMany(ses: FakeSes, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i += 1) out.push((await send(ses)).status);
  return out;
}

async function sentLast24Hours(ses: FakeSes): Promise<number> {
  const res = await fetch(`${ses.url}/v2/email/account`, { headers: AUTH });
  return ((await res.json()) as { SendQuota: { SentLast24Hours: number } }).SendQuota.SentLast24Hours;
}

const RATE_REFUSAL = { status: 429, type: 'TooManyRequestsException', message: 'Maximum sending rate exceeded.' };

test('by default 14 recipients a second pass and the 15th is SESv2\'s 429 TooManyRequestsException "Maximum sending rate exceeded."', async () => {
  const ses = await fake();
  expect(await sendMany(ses, 14)).toEqual(Array(14).fill(200));
  expect(await send(ses)).toEqual(RATE_REFUSAL);
  expect(ses.sentCount).toBe(14);
  expect(ses.calls[14]!.outcome).toEqual({ status: 429, error: 'TooManyRequestsException' });
});

test('the rate refills continuously, one recipient per 1/MaxSendRate s, and never holds more than one second of it', async () => {
  const ses = await fake();
  await sendMany(ses, 14);
  clock += 71; // 71 ms at 14/s: 0.994 of a recipient
  expect((await send(ses)).status).toBe(429);
  clock += 1;
  expect((await send(ses)).status).toBe(200);
  expect((await send(ses)).status).toBe(429);
  clock += 60_000; // a quiet minute saves up one second, no more: no bursts beyond the rate
  expect(await sendMany(ses, 14)).toEqual(Array(14).fill(200));
  expect(await send(ses)).toEqual(RATE_REFUSAL);
});

test('a sender going faster than the rate is refused: at twice 14/s, over 3 s no more than 14 + 3 × 14 pass', async () => {
  const ses = await fake();
  const statuses: number[] = [];
  for (let i = 0; i < 84; i += 1) {
    statuses.push((await send(ses)).status);
    clock += 1000 / 28;
  }
  expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(14 + 3 * 14);
  expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(84 - (14 + 3 * 14));
});

test('recipients count, not messages: To, Cc and Bcc of one message together fill the second', async () => {
  const ses = await fake();
  expect((await send(ses, { to: 10, cc: 2, bcc: 2 })).status).toBe(200);
  expect(await send(ses)).toEqual(RATE_REFUSAL);
  clock += 1000;
  expect((await send(ses, { to: 13, cc: 1 })).status).toBe(200);
  expect((await send(ses)).status).toBe(429);
});

test('a message to more recipients than are left passes while one is left, then the account waits until they are paid back (SES: 5 at 1/s, 5 s of errors)', async () => {
  const ses = await fake({ SendQuota: { MaxSendRate: 1 } });
  expect((await send(ses, { to: 5 })).status).toBe(200);
  clock += 4999;
  expect((await send(ses)).status).toBe(429);
  clock += 1;
  expect((await send(ses)).status).toBe(200);
});

test('a throttled send never counts against the 24 hours', async () => {
  const ses = await fake();
  await sendMany(ses, 14);
  expect((await send(ses)).status).toBe(429);
  expect(await sentLast24Hours(ses)).toBe(14);
});

test('an advertised high rate is the rate enforced: 1,000 a second take 1,000 recipients and refuse the next', async () => {
  const ses = await fake({ SendQuota: { MaxSendRate: 1000, Max24HourSend: -1 } });
  expect((await send(ses, { to: 1, bcc: 998 })).status).toBe(200);
  expect((await send(ses)).status).toBe(200);
  expect(await send(ses)).toEqual(RATE_REFUSAL);
});

test('the 24-hour quota counts what was already sent and is refused with "Daily message quota exceeded."; SentLast24Hours is what the fake counted', async () => {
  const ses = await fake({ SendQuota: { Max24HourSend: 20, SentLast24Hours: 15, MaxSendRate: 14 } });
  expect(await sentLast24Hours(ses)).toBe(15);
  expect((await send(ses, { to: 2, cc: 1 })).status).toBe(200);
  expect((await send(ses)).status).toBe(200);
  expect(await sentLast24Hours(ses)).toBe(19);
  expect((await send(ses, { to: 2 })).status).toBe(429); // 21 > 20
  expect((await send(ses)).status).toBe(200); // exactly 20
  clock += 1000;
  expect(await send(ses)).toEqual({ status: 429, type: 'TooManyRequestsException', message: 'Daily message quota exceeded.' });
  expect(await sentLast24Hours(ses)).toBe(20);
  clock += 24 * 60 * 60 * 1000; // the fake's own sends are a day old
  expect(await sentLast24Hours(ses)).toBe(15);
  expect((await send(ses)).status).toBe(200);
});

test('by default the 24-hour quota is 50,000 recipients', async () => {
  const ses = await fake({ SendQuota: { MaxSendRate: 100_000 } });
  expect((await send(ses, { to: 1, bcc: 49_999 })).status).toBe(200);
  clock += 1000;
  expect((await send(ses)).message).toBe('Daily message quota exceeded.');
  expect(await sentLast24Hours(ses)).toBe(50_000);
});

test('Max24HourSend -1 is unlimited, as SES says', async () => {
  const ses = await fake({ SendQuota: { Max24HourSend: -1, SentLast24Hours: 10_000_000 } });
  expect((await send(ses)).status).toBe(200);
  expect(await sentLast24Hours(ses)).toBe(10_000_001);
});

test("a message over SESv2's 40 MB after base64 is refused 400 MessageRejected; one just under passes", async () => {
  expect(MAX_MESSAGE_BYTES).toBe(40 * 1024 * 1024);
  const ses = await fake();
  const over = await send(ses, { html: 'a'.repeat((MAX_MESSAGE_BYTES / 4) * 3 + 3) });
  expect(over).toMatchObject({ status: 400, type: 'MessageRejected' });
  expect(over.message).toMatch(/Message length is more than 41943040 bytes/);
  clock += 1000;
  expect((await send(ses, { html: 'a'.repeat((MAX_MESSAGE_BYTES / 4) * 3 - 3000) })).status).toBe(200);
  expect(ses.sentCount).toBe(1);
});
