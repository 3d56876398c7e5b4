/** HTML that the executor writes itself: the one escaper, the one notice page and the headers of every page. */

/** Text as HTML text or an attribute value (double- or single-quoted). */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * The security headers of every page served (the unsubscribe page, the web version of a
 * letter, their notices): no referrer (a signed token is in the URL), no framing, no sniffing,
 * no indexing. The policy allows inline styles, the letter's images and a form that posts back
 * to the page; nothing runs. Only `cache-control` differs from page to page.
 */
export function pageHeaders(cacheControl: string): Record<string, string> {
  return { ...PAGE_SECURITY_HEADERS, 'cache-control': cacheControl };
}

const PAGE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'x-robots-tag': 'noindex, nofollow',
  'content-security-policy': "default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
};

export interface Notice {
  /** Plain text: shown as the title and the heading. */
  title: string;
  /** Trusted HTML: the Russian paragraph, then its English one. */
  ru: string;
  en: string;
  /** `data-state` of the page's main element, for tests and the browser checks. */
  state: string;
  /** Trusted HTML after the paragraphs (a form). */
  after?: string;
}

/** A short bilingual page (Russian, then English): the one look of every notice a reader sees. */
export function noticePage(n: Notice): string {
  const title = escapeHtml(n.title);
  return `<!doctype html>
<html lang="ru">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<link rel="icon" href="data:,">
<title>${title}</title>
<style>
  body { margin: 0; padding: 0 16px; font: 16px/1.5 -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; background: #f6f6f4; color: #1f1f1f; }
  main { max-width: 30rem; margin: 12vh auto; padding: 2rem; background: #fff; border-radius: 12px; box-shadow: 0 1px 3px rgba(0,0,0,.08); }
  h1 { font-size: 1.25rem; margin: 0 0 1rem; }
  p { margin: 0 0 .75rem; }
  p[lang="en"] { color: #555; }
  button { margin-top: 1rem; padding: .7rem 1.2rem; font: inherit; border: 0; border-radius: 8px; background: #1f1f1f; color: #fff; cursor: pointer; }
  button.secondary { background: #e9e9e6; color: #1f1f1f; }
  @media (prefers-color-scheme: dark) {
    body { background: #121212; color: #e6e6e6; }
    main { background: #1e1e1e; }
    p[lang="en"] { color: #aaa; }
    button { background: #e6e6e6; color: #121212; }
    button.secondary { background: #333; color: #e6e6e6; }
  }
</style>
</head>
<body>
<main data-state="${escapeHtml(n.state)}">
  <h1>${title}</h1>
  <p lang="ru">${n.ru}</p>
  <p lang="en">${n.en}</p>
  ${n.after ?? ''}
</main>
</body>
</html>
`;
}
