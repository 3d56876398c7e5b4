/** Amazon SES (v2) for the send engine: client, pre-flight, error classification, retries, pacing. */
export { createSesClient, hasEndpointOverride, DEFAULT_CONNECTION_TIMEOUT_MS, DEFAULT_REQUEST_TIMEOUT_MS } from './client';
export type { SesClientOptions } from './client';
export { preflight } from './preflight';
export type { PreflightOptions, PreflightResult } from './preflight';
export { classifySesError, SesError, isSesError } from './errors';
export type { SesErrorInfo, SesErrorKind, ClassifyContext } from './errors';
export { sendWithRetry, backoffDelay, DEFAULT_RETRY } from './retry';
export type { RetryOptions } from './retry';
export { createPacer, PacerClosedError } from './pacer';
export type { Pacer, PacerOptions, Permit, Place } from './pacer';
export { createBreaker } from './breaker';
export type { FailureBreaker } from './breaker';
