/**
 * The letter's types, in one place: where a letter comes from, the letter as loaded, as
 * rendered and stored at the claim (`mailouts.content`), and whom a copy of it goes to. Only
 * types here (the foundation layer), so the ledger can name what it stores, lib/render what it
 * renders and the send whom it sends to, without depending on the loaders (lib/letter).
 */

export type Segment = string | { kind: 'unsubscribe' } | { kind: 'name'; fallback?: string; trimBefore: number };

export interface Template {
  segments: Segment[];
}

/**
 * A rendered letter as the ledger stores it at the claim and the send, the web version and a
 * resume read it back: templates with the reader's placeholders in place. Made by lib/render
 * (`renderMailout`).
 */
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

/** An image's pixel size, as read from its file and given to the renderer for its `width`/`height`. */
export interface ImageSize {
  width: number;
  height: number;
}

/** Where a letter comes from: a Notion page, or a Markdown file with front matter (the CLI, the demo, the preview). */
export type LetterSource = { kind: 'notion'; pageId: string } | { kind: 'file'; path: string };

/** A letter read from its source and rendered: the letter every mode sends or shows, and what the source says about the send. */
export interface LoadedLetter {
  mailoutId: string;
  letter: RenderedMailout;
  /** The page's Test checkbox (a file: never). */
  test: boolean;
  status?: string;
  /** Reader and renderer warnings together (skipped blocks, dropped links, unknown image sizes). */
  warnings: string[];
  /** Stored with the letter: only a mailout from a Notion page writes back to it. */
  origin: LetterSource['kind'];
}

/** Whom a copy of the letter goes to: a subscriber (a live send) or a test address (no subscriber id). */
export interface Recipient {
  email: string;
  /** The recipient's own name (subscribers.name), for the greeting. */
  name: string | null;
  subscriberId?: string;
}

/** A recipient with their own unsubscribe link: whom one copy of the letter is addressed to. */
export type AddressedRecipient = Recipient & { unsubscribeUrl: string };
