import sanitizeHtml from 'sanitize-html';

/**
 * The allowlist every email body passes through after Markdown → HTML: no script, style,
 * iframe, object, form or input element, no event handler, no `javascript:` or `data:`
 * link, no relative link; inline styles only from a list of presentational properties
 * with values that cannot load anything (`url(`, `expression(` are refused).
 */

const SAFE_VALUE = /^(?!.*(?:url|expression|javascript|image-set|var)\s*[(:])[^;{}<>\\]*$/i;
const STYLE_PROPERTIES = [
  'color',
  'background',
  'background-color',
  'border',
  'border-top',
  'border-bottom',
  'border-left',
  'border-right',
  'border-radius',
  'border-collapse',
  'border-color',
  'display',
  'font-family',
  'font-size',
  'font-style',
  'font-weight',
  'height',
  'line-height',
  'list-style',
  'list-style-type',
  'margin',
  'margin-top',
  'margin-bottom',
  'margin-left',
  'margin-right',
  'max-width',
  'min-width',
  'overflow-x',
  'padding',
  'padding-top',
  'padding-bottom',
  'padding-left',
  'padding-right',
  'text-align',
  'text-decoration',
  'vertical-align',
  'white-space',
  'width',
  'word-break',
  'overflow-wrap',
];

const allowedStyles: Record<string, RegExp[]> = Object.fromEntries(STYLE_PROPERTIES.map((p) => [p, [SAFE_VALUE]]));

export const BODY_CLASSES = ['n-quote', 'n-code', 'n-codespan', 'n-muted', 'n-table', 'n-cell', 'n-link', 'n-hl'];

const OPTIONS: sanitizeHtml.IOptions = {
  allowedTags: [
    'a', 'b', 'strong', 'i', 'em', 'u', 's', 'del', 'ins', 'mark', 'sub', 'sup', 'small', 'code', 'kbd', 'br', 'span',
    'p', 'div', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'hr', 'blockquote', 'pre', 'ul', 'ol', 'li',
    'table', 'thead', 'tbody', 'tr', 'th', 'td', 'img', 'figure', 'figcaption',
  ],
  allowedAttributes: {
    '*': ['style', 'class', 'align', 'dir', 'lang'],
    a: ['href', 'title'],
    img: ['src', 'alt', 'title', 'width', 'height', 'border'],
    ol: ['start'],
    table: ['role', 'cellpadding', 'cellspacing', 'border', 'width'],
    td: ['colspan', 'rowspan', 'valign', 'width'],
    th: ['colspan', 'rowspan', 'valign', 'width'],
  },
  allowedClasses: { '*': BODY_CLASSES },
  allowedStyles: { '*': allowedStyles },
  allowedSchemes: ['http', 'https', 'mailto'],
  allowedSchemesByTag: { img: ['https', 'http'] },
  allowProtocolRelative: false,
  disallowedTagsMode: 'discard',
  // Text inside these is dropped, not shown.
  nonTextTags: ['script', 'style', 'textarea', 'option', 'noscript', 'iframe', 'object', 'embed', 'title', 'head', 'form', 'select', 'button', 'svg', 'math', 'template'],
  transformTags: {
    a: (tagName, attribs) => {
      // Only absolute links: a relative one would resolve against nothing in a mail client.
      const href = attribs.href ?? '';
      const out = { ...attribs };
      if (!/^(https?:\/\/|mailto:)/i.test(href.trim())) {
        delete out.href;
        return { tagName: 'span', attribs: out };
      }
      return { tagName, attribs: out };
    },
    img: (tagName, attribs) => {
      const out = { ...attribs };
      if (!/^https?:\/\//i.test((attribs.src ?? '').trim())) delete out.src;
      return { tagName, attribs: out };
    },
  },
  exclusiveFilter: (frame) => frame.tag === 'img' && !frame.attribs.src,
};

/**
 * `imageWidth(src, declared)`: the `width` an image is shown at (its real size or the width
 * the author wrote, at most the column), or undefined when unknown.
 */
export function sanitizeBody(html: string, imageWidth?: (src: string, declared: number | undefined) => number | undefined): string {
  if (!imageWidth) return sanitizeHtml(html, OPTIONS);
  const img = OPTIONS.transformTags!.img as (tagName: string, attribs: sanitizeHtml.Attributes) => sanitizeHtml.Tag;
  return sanitizeHtml(html, {
    ...OPTIONS,
    transformTags: {
      ...OPTIONS.transformTags,
      img: (tagName, attribs) => {
        const out = img(tagName, attribs);
        const declared = /^\d+$/.test(attribs.width ?? '') ? Number(attribs.width) : undefined;
        const width = out.attribs.src ? imageWidth(out.attribs.src.trim(), declared) : undefined;
        if (width === undefined) return out;
        // A height written for another width would distort the image: the client scales it.
        const { height: _height, ...rest } = out.attribs;
        return { tagName, attribs: { ...rest, width: String(width) } };
      },
    },
  });
}

/** Plain text of an HTML fragment (for the text part of raw HTML in a Markdown file). */
export function htmlToPlain(html: string): string {
  return sanitizeHtml(html.replace(/<br\s*\/?>/gi, '\n').replace(/<\/(p|div|li|h[1-6]|tr)>/gi, '$&\n'), {
    allowedTags: [],
    allowedAttributes: {},
    nonTextTags: OPTIONS.nonTextTags,
  });
}
