/**
 * `npm run preview -- PAGE|FILE.md [--out DIR] [--name NAME] [--to EMAIL]`
 *
 * Renders a mailout to DIR/<name>.html, .txt and .eml (default DIR: ./out) without sending,
 * through the very pipeline a send uses (lib/letter): what it writes is what the
 * subscriber named NAME receives, byte for byte, but for their own unsubscribe link.
 *
 * A Markdown file is read with its front matter (`subject:`, `preheader:`, `id:`); no Notion.
 * A Notion page (id or URL) needs NOTION_TOKEN (and NOTION_BASE_URL for a local fake).
 * With the configuration a send has (`.env`, see .env.example) the preview uses it whole:
 * sender, footer, list name, image re-hosting and the signed "view in browser" link. Without
 * it the preview still renders, from whatever of SES_FROM_EMAIL, SES_FROM_NAME, SES_REPLY_TO,
 * FOOTER_ADDRESS, LIST_NAME, APP_BASE_URL is set, and says what differs from a send.
 */
import fs from 'node:fs';
import path from 'node:path';
import { env, loadConfig, loadNotionConfig, type Config } from '../lib/config';
import { isAppError } from '../lib/errors';
import { buildEml } from '../lib/message';
import { createNotionClient } from '../lib/notion/client';
import { personalise } from '../lib/render';
import { letterSource, loadLetter, type LetterOptions, type LetterSource } from '../lib/letter';
import { letterOptionsFromConfig } from '../lib/app';
import { setLogLevel } from '../lib/log';
import { footerAddressWarnings } from '../lib/send/footer';
import { linkUrl } from '../lib/signed-link';
import { loadCliEnv } from './lib/env';

interface Args {
  source: string;
  out: string;
  name?: string;
  to?: string;
}

function usage(message?: string): never {
  if (message) console.error(message);
  console.error('usage: npm run preview -- PAGE|FILE.md [--out DIR] [--name NAME] [--to EMAIL]');
  process.exit(2);
}

function parseArgs(argv: string[]): Args {
  let source: string | undefined;
  let out = 'out';
  let name: string | undefined;
  let to: string | undefined;
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i]!;
    const value = () => argv[++i] ?? usage(`${a} needs a value`);
    if (a === '--out' || a === '-o') out = value();
    else if (a.startsWith('--out=')) out = a.slice(6);
    else if (a === '--name') name = value();
    else if (a === '--to') to = value();
    else if (a === '--help' || a === '-h') usage();
    else if (a.startsWith('-')) usage(`unknown option ${a}`);
    else if (!source) source = a;
    else usage(`unexpected argument ${a}`);
  }
  if (!source) usage();
  return { source, out, ...(name ? { name } : {}), ...(to ? { to } : {}) };
}

/** The send's configuration when it is complete; a preview does not need it. */
function tryConfig(): Config | null {
  try {
    return loadConfig();
  } catch {
    return null;
  }
}

interface Setup {
  options: LetterOptions;
  appBaseUrl: string;
  from: { email: string; name?: string };
  replyTo?: string;
  notes: string[];
}

function setup(config: Config | null, source: LetterSource): Setup {
  const { token, baseUrl } = config?.notion ?? loadNotionConfig();
  if (source.kind === 'notion' && !token) usage('Previewing a Notion page needs NOTION_TOKEN (the integration secret).');
  const notion = token ? createNotionClient({ token, ...(baseUrl ? { baseUrl } : {}) }) : null;
  if (config) {
    const options = letterOptionsFromConfig(config, notion);
    return {
      options: options.storage ? options : { ...options, allowNotionHostedUrls: true },
      appBaseUrl: config.appBaseUrl,
      from: { email: config.ses.fromEmail, ...(config.ses.fromName ? { name: config.ses.fromName } : {}) },
      ...(config.ses.replyTo ? { replyTo: config.ses.replyTo } : {}),
      notes: [],
    };
  }
  const appBaseUrl = (env('APP_BASE_URL') ?? 'https://example.com').replace(/\/+$/, '');
  const footerAddress = env('FOOTER_ADDRESS');
  const listName = env('LIST_NAME');
  const fromName = env('SES_FROM_NAME');
  const replyTo = env('SES_REPLY_TO');
  return {
    options: {
      notion,
      allowNotionHostedUrls: true,
      ...(footerAddress ? { footerAddress } : {}),
      ...(listName ? { listName } : {}),
      // Unsigned: without the configuration there is no key to sign the link with.
      viewUrl: (id) => linkUrl(appBaseUrl, 'view', { m: id, sig: 'preview' }),
    },
    appBaseUrl,
    from: { email: env('SES_FROM_EMAIL') ?? 'newsletter@example.com', ...(fromName ? { name: fromName } : {}) },
    ...(replyTo ? { replyTo } : {}),
    notes: ['the configuration of a send is incomplete (see .env.example), so the "view in browser" link is a placeholder and Notion images are not re-hosted'],
  };
}

async function main(): Promise<void> {
  loadCliEnv();
  const args = parseArgs(process.argv.slice(2));
  setLogLevel('warn');
  let source: LetterSource;
  try {
    source = letterSource(args.source);
  } catch {
    usage(`${args.source} is neither a file nor a Notion page id or URL`);
  }
  const s = setup(tryConfig(), source);
  const loaded = await loadLetter(source, s.options);
  const baseName = source.kind === 'file' ? path.basename(source.path).replace(/\.[^.]+$/, '') : source.pageId.replace(/-/g, '');

  const unsubscribeUrl = linkUrl(s.appBaseUrl, 'unsubscribe', { token: 'preview' });
  const copy = personalise(loaded.letter, { unsubscribeUrl, ...(args.name ? { name: args.name } : {}) });
  const eml = buildEml({
    from: s.from,
    ...(s.replyTo ? { replyTo: s.replyTo } : {}),
    to: args.to ?? 'reader@example.com',
    subject: copy.subject,
    html: copy.html,
    text: copy.text,
    unsubscribeUrl,
    mailoutId: loaded.mailoutId,
  });

  fs.mkdirSync(args.out, { recursive: true });
  const files = {
    html: path.join(args.out, `${baseName}.html`),
    txt: path.join(args.out, `${baseName}.txt`),
    eml: path.join(args.out, `${baseName}.eml`),
  };
  fs.writeFileSync(files.html, copy.html);
  fs.writeFileSync(files.txt, copy.text);
  fs.writeFileSync(files.eml, eml);

  console.log(`Subject: ${copy.subject}`);
  if (loaded.letter.preheader) console.log(`Preheader: ${loaded.letter.preheader}`);
  console.log(`Mailout id: ${loaded.mailoutId}`);
  if (source.kind === 'notion') console.log(`Test mode: ${loaded.test ? 'yes' : 'no'}${loaded.status ? `, status: ${loaded.status}` : ''}`);
  for (const f of Object.values(files)) console.log(`wrote ${f}`);
  for (const w of [...loaded.warnings, ...footerAddressWarnings({ footerAddress: s.options.footerAddress })]) console.log(`warning: ${w}`);
  for (const n of s.notes) console.log(`note: ${n}`);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(isAppError(err) ? `preview failed: ${err.message}` : err);
    process.exit(1);
  });
}
