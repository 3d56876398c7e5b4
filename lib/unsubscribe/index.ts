export {
  testUnsubscribeToken,
  testUnsubscribeUrl,
  unsubscribeToken,
  unsubscribeUrl,
  verifyUnsubscribeToken,
  type UnsubscribeTarget,
} from './token';
export * from './page';
