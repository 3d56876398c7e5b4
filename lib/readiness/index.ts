export { describeCheck, type Check, type CheckStatus } from './check';
export { readinessClients, senderChecks, type ReadinessClients } from './checks';
export type { TxtResolver } from './dmarc';
export { readinessWarnings, requireReady } from './gate';
