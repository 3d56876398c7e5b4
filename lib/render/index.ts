export { escapeHtml } from './markdown-tokens';
export * from './mailout';
