/**
 * Which URLs point at files uploaded to Notion. Notion signs them for one hour: an email
 * that contains one shows a broken image to everyone who opens it later.
 */
const NOTION_FILE_HOSTS = ['prod-files-secure.s3.us-west-2.amazonaws.com', 'file.notion.so', 'files.notion.so'];

export function isNotionHostedUrl(url: string, knownFileUrls: Iterable<string> = []): boolean {
  for (const known of knownFileUrls) if (known === url) return true;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  const host = u.hostname.toLowerCase();
  if (NOTION_FILE_HOSTS.includes(host)) return true;
  if (host === 's3.us-west-2.amazonaws.com' && u.pathname.startsWith('/secure.notion-static.com/')) return true;
  if (host === 'secure.notion-static.com' || host.endsWith('.secure.notion-static.com')) return true;
  // notion.so/image/<encoded url> proxies the same signed files.
  if ((host === 'www.notion.so' || host === 'notion.so') && u.pathname.startsWith('/image/')) return true;
  if ((host === 'www.notion.so' || host === 'notion.so') && u.pathname.startsWith('/signed/')) return true;
  return false;
}

/** Every Notion-hosted URL in a text (Markdown, HTML, plain text). */
export function findNotionHostedUrls(text: string, knownFileUrls: Iterable<string> = []): string[] {
  const known = [...knownFileUrls];
  const found = new Set<string>();
  for (const k of known) if (k && text.includes(k)) found.add(k);
  for (const m of text.matchAll(/https?:\/\/[^\s<>"'()\]]+/gi)) {
    const url = m[0].replace(/[.,;:!?]+$/, '');
    if (isNotionHostedUrl(url)) found.add(url);
  }
  return [...found];
}
