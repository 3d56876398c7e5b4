/**
 * A rendered letter as the ledger stores it at the claim (`mailouts.content`) and the send,
 * the web version and a resume read it back: templates with the reader's placeholders in
 * place. Made by lib/render (`renderMailout`); only types here, so the ledger can name what it
 * stores without depending on the renderer.
 */

export type Segment = string | { kind: 'unsubscribe' } | { kind: 'name'; fallback?: string; trimBefore: number };

export interface Template {
  segments: Segment[];
}

export interface RenderedMailout {
  subject: string;
  preheader?: string;
  lang: 'ru' | 'en';
  /** The full HTML document, placeholders in place. */
  html: string;
  /** The plain-text part, placeholders in place. */
  text: string;
  warnings: string[];
  /** Whether the body greets by name (`{{name}}`). */
  usesName: boolean;
  templates: { html: Template; text: Template; subject: Template };
}
