export { authenticateSendRequest, parseSendRequest, type SendRequest } from './request';
export { runSendLoop, type LoopSummary } from './loop';
export { silentReporter, type MailoutReporter } from '../mailout-reporter';
export * from './start';
export * from './webhook';
