/**
 * `npm run preview -- PAGE|FILE.md [--out DIR] [--name NAME] [--to EMAIL]`
 *
 * Renders a mailout to DIR/<name>.html, .txt and .eml (default DIR: ./out) without sending.
 * A Markdown file enters the pipeline at the Markdown stage: no Notion, no network. Its
 * subject is the `subject:` of a front-matter block, else its first `# heading`, else the
 * file name. A Notion page (id or URL) needs NOTION_TOKEN (and NOTION_BASE_URL for a local
 * fake). Everything else is optional: SES_FROM_EMAIL, SES_FROM_NAME, SES_REPLY_TO,
 * FOOTER_ADDRESS, LIST_NAME, APP_BASE_URL, SUPABASE_URL + SUPABASE_SERVICE_ROLE_KEY +
 * SUPABASE_STORAGE_BUCKET (to re-host Notion images as a send would).
 */
import fs from 'node:fs';
import path from 'node:path';
import { isAppError } from '../lib/errors';
import { createSupabaseStorage } from '../lib/images';
import { buildEml } from '../lib/message';
import { createNotionClient, parseNotionPageId } from '../lib/notion/client';
import { personalise } from '../lib/render';
import { prepareMarkdownMailout, prepareNotionMailout, type MailoutContent } from '../lib/render/pipeline';
import { setLogLevel } from '../lib/log';
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

/** Front matter (`---` … `---`, `key: value` lines) and the body. */
export function parseMarkdownFile(text: string, fileName: string): { subject: string; preheader?: string; markdown: string } {
  let body = text.replace(/^\uFEFF/, '');
  const meta: Record<string, string> = {};
  const fm = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?/.exec(body);
  if (fm) {
    for (const line of fm[1]!.split(/\r?\n/)) {
      const m = /^\s*([A-Za-z_]+)\s*:\s*(.*)$/.exec(line);
      if (m) meta[m[1]!.toLowerCase()] = m[2]!.trim().replace(/^(["'])(.*)\1$/, '$2');
    }
    body = body.slice(fm[0].length);
  }
  let subject = meta.subject ?? '';
  if (!subject) {
    const h1 = /^#\s+(.+?)\s*#*\s*$/m.exec(body);
    subject = h1 ? h1[1]!.replace(/[*_`]/g, '') : path.basename(fileName).replace(/\.[^.]+$/, '');
  }
  return { subject, ...(meta.preheader ? { preheader: meta.preheader } : {}), markdown: body };
}

function storageFromEnv() {
  const { SUPABASE_URL: url, SUPABASE_SERVICE_ROLE_KEY: key, SUPABASE_STORAGE_BUCKET: bucket } = process.env;
  return url && key && bucket ? createSupabaseStorage({ url, serviceRoleKey: key, bucket }) : undefined;
}

async function main(): Promise<void> {
  loadCliEnv();
  const args = parseArgs(process.argv.slice(2));
  setLogLevel('warn');
  const env = process.env;
  const storage = storageFromEnv();
  const common = {
    ...(storage ? { storage } : { allowNotionHostedUrls: true }),
    ...(env.FOOTER_ADDRESS ? { footerAddress: env.FOOTER_ADDRESS } : {}),
    ...(env.LIST_NAME ? { listName: env.LIST_NAME } : {}),
  };

  let content: MailoutContent;
  let baseName: string;
  let mailoutId: string;
  if (fs.existsSync(args.source) && fs.statSync(args.source).isFile()) {
    const file = parseMarkdownFile(fs.readFileSync(args.source, 'utf8'), args.source);
    content = await prepareMarkdownMailout(file, common);
    baseName = path.basename(args.source).replace(/\.[^.]+$/, '');
    mailoutId = `preview-${baseName}`;
  } else {
    let pageId: string;
    try {
      pageId = parseNotionPageId(args.source);
    } catch {
      usage(`${args.source} is neither a file nor a Notion page id or URL`);
    }
    if (!env.NOTION_TOKEN) usage('Previewing a Notion page needs NOTION_TOKEN (the integration secret).');
    const client = createNotionClient({ token: env.NOTION_TOKEN, ...(env.NOTION_BASE_URL ? { baseUrl: env.NOTION_BASE_URL } : {}) });
    content = await prepareNotionMailout(client, pageId, common);
    baseName = pageId.replace(/-/g, '');
    mailoutId = pageId;
  }

  const base = (env.APP_BASE_URL ?? 'https://example.com').replace(/\/+$/, '');
  const unsubscribeUrl = `${base}/api/unsubscribe?token=preview`;
  const copy = personalise(content.rendered, { unsubscribeUrl, ...(args.name ? { name: args.name } : {}) });
  const eml = buildEml({
    from: { email: env.SES_FROM_EMAIL ?? 'newsletter@example.com', ...(env.SES_FROM_NAME ? { name: env.SES_FROM_NAME } : {}) },
    ...(env.SES_REPLY_TO ? { replyTo: env.SES_REPLY_TO } : {}),
    to: args.to ?? 'reader@example.com',
    subject: copy.subject,
    html: copy.html,
    text: copy.text,
    unsubscribeUrl,
    mailoutId,
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
  if (content.page.preheader) console.log(`Preheader: ${content.page.preheader}`);
  if (content.page.pageId) console.log(`Test mode: ${content.page.test ? 'yes' : 'no'}${content.page.status ? `, status: ${content.page.status}` : ''}`);
  for (const f of Object.values(files)) console.log(`wrote ${f}`);
  for (const w of content.warnings) console.log(`warning: ${w}`);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(isAppError(err) ? `preview failed: ${err.message}` : err);
    process.exit(1);
  });
}
