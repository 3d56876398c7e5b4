import { SESv2Client } from '@aws-sdk/client-sesv2';
import type { Config } from '../config';

/** Connection set-up budget: SES answers TLS in well under a second from any AWS region. */
export const DEFAULT_CONNECTION_TIMEOUT_MS = 3_000;
/** Whole-request budget: a SendEmail normally takes 50-300 ms; 10 s means something is wrong. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

/** Sockets to SES at most: the most messages the send loop may have in flight. */
const MAX_SOCKETS = 1000;

/** Credentials used only against a local endpoint (emulator, fake) when none are configured. */
const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

export interface SesClientOptions {
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
}

/**
 * The SESv2 client the executor uses.
 *
 * - `region` and `credentials` from the configuration; without explicit keys the SDK's default
 *   chain (a role on Vercel/AWS, a profile locally) is used.
 * - `endpoint` from `SES_ENDPOINT` (the local emulator or a test fake). Against such an endpoint,
 *   without configured keys, fixed dummy keys are used: the emulator only checks that a SigV4
 *   `Authorization` header is present, and no real credentials should ever be sent to it.
 * - Timeouts: ~3 s to establish a connection, ~10 s for the whole request (`throwOnRequestTimeout`,
 *   without which the SDK only logs a warning), so a stuck call cannot eat the function's budget.
 * - `maxAttempts: 1`: the SDK's own retries are OFF. `sendWithRetry` retries with our
 *   classification, so a throttled send slows the pacer instead of being retried blindly (and a
 *   send that may have reached SES is never repeated behind our back).
 */
export function createSesClient(config: Pick<Config, 'aws'>, options: SesClientOptions = {}): SESv2Client {
  const { region, endpoint, credentials } = config.aws;
  const connectionTimeout = options.connectionTimeoutMs ?? DEFAULT_CONNECTION_TIMEOUT_MS;
  const requestTimeout = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  return new SESv2Client({
    region,
    ...(endpoint ? { endpoint } : {}),
    ...(credentials ? { credentials } : endpoint ? { credentials: LOCAL_CREDENTIALS } : {}),
    maxAttempts: 1,
    requestHandler: {
      connectionTimeout,
      requestTimeout,
      throwOnRequestTimeout: true,
      // An idle socket is also cut off at the request budget (the SDK's default is 5 minutes).
      socketTimeout: requestTimeout,
      // The SDK's default of 50 sockets would queue requests the pacer has already started
      // (200/s with SES's slow tail has more in flight) and let them out in a burst: as many
      // sockets as the send loop may have messages in flight (SEND_CONCURRENCY's maximum).
      httpAgent: { maxSockets: MAX_SOCKETS },
      httpsAgent: { maxSockets: MAX_SOCKETS },
    },
  });
}

/** Whether the client talks to an endpoint override (SES_ENDPOINT) rather than real SES. */
export function hasEndpointOverride(client: SESv2Client): boolean {
  return Boolean((client.config as { isCustomEndpoint?: boolean }).isCustomEndpoint);
}
