export { letterSource, loadLetter, mailoutIdOf } from './source';
export { pageContent } from './load-notion';
export { refuseNotionHostedUrls, renderLetter, type LetterContent, type LetterOptions } from './render-letter';
export type { LetterSource, LoadedLetter, Recipient, RenderedMailout } from './types';
