export { isNotionHostedUrl, findNotionHostedUrls } from './hosts';
export * from './rehost';
