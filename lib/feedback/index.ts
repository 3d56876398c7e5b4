export { SES_MAILOUT_TAG, parseSesMessage, type SesEvent } from './ses';
export { isSnsCertUrl, isSnsSubscribeUrl, parseSnsEnvelope, stringToSign, type CertificateFetcher, type SnsEnvelope } from './sns';
export {
  applySesEvent,
  claimNotionRefresh,
  claimPendingNotionRefreshes,
  autoPauseReason,
  mailoutFeedbackStats,
  type AppliedEvent,
  type FeedbackStats,
} from './store';
export * from './sns-handler';
