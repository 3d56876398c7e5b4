import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { getConfig, resetConfig, type Config } from '../../lib/config';
import { getDb } from '../../lib/db';
import { startApiServer, type ApiServer } from '../../scripts/local/api-server';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

/**
 * The browser tests' stack: a test database (migrations applied by globalSetup), every api/
 * route served over real HTTP as Vercel serves it, and headless Chromium (Debian's
 * `chromium`, or CHROMIUM_PATH) driven by playwright-core. Screenshots go to
 * test-artifacts/browser/ (git-ignored).
 */

export const ROOT = path.resolve(__dirname, '../..');
export const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'browser');
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

// The network is closed in CI: without the background-networking flags Chromium keeps
// trying (and failing) to reach Google's services.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const PHONE = { width: 375, height: 667 };
export const DESKTOP = { width: 1280, height: 800 };

export const UNSUBSCRIBE_SECRET = 'browser-test-unsubscribe-secret-0123456789';
export const LIST_NAME = 'Новости Примера';
export const FOOTER_ADDRESS = 'ООО «Пример», ул. Ленина, 1\\n101000 Москва, Россия';

export async function launchBrowser(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`Chromium is not at ${CHROMIUM}: install it (apt-get install -y chromium) or set CHROMIUM_PATH.`);
  }
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

export interface BrowserStack {
  t: TestDatabase;
  api: ApiServer;
  config: Config;
  browser: Browser;
  close(): Promise<void>;
}

/** A test database, the api/ routes on a free port (APP_BASE_URL points at them), and Chromium. */
export async function startBrowserStack(): Promise<BrowserStack> {
  const saved = { ...process.env };
  const t = await createTestDatabase();
  // Port 0: the system picks a free port as the server binds it (no chosen port can be taken first).
  const api = await startApiServer({ rootDir: ROOT, port: 0 });
  Object.assign(process.env, {
    EXECUTOR_SHARED_SECRET: 'browser-test-secret-0123456789abcdef',
    APP_BASE_URL: api.url,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local-secret',
    SES_FROM_EMAIL: 'news@example.com',
    DATABASE_URL: t.url,
    UNSUBSCRIBE_SECRET,
    LIST_NAME,
    FOOTER_ADDRESS,
    LOG_LEVEL: 'warn',
  });
  resetConfig();
  const config = getConfig();
  let browser: Browser;
  try {
    browser = await launchBrowser();
  } catch (err) {
    await api.close();
    await t.drop();
    throw err;
  }
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  return {
    t,
    api,
    config,
    browser,
    async close() {
      await browser.close();
      await api.close();
      await getDb(config).close();
      await t.drop();
      process.env = saved;
      resetConfig();
    },
  };
}

export interface OpenedPage {
  context: BrowserContext;
  page: Page;
  /** Console errors, uncaught page errors and failed requests: a clean page has none. */
  problems: string[];
}

export async function newPage(
  browser: Browser,
  opts: { viewport?: { width: number; height: number }; colorScheme?: 'light' | 'dark'; locale?: string } = {},
): Promise<OpenedPage> {
  const context = await browser.newContext({
    viewport: opts.viewport ?? DESKTOP,
    colorScheme: opts.colorScheme ?? 'light',
    ...(opts.locale ? { locale: opts.locale } : {}),
  });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} (${r.failure()?.errorText ?? '?'})`));
  return { context, page, problems };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** How wide the document is against the viewport: a reader scrolls sideways when scrollWidth > viewport. */
export async function widths(page: Page): Promise<{ scrollWidth: number; bodyScrollWidth: number; viewport: number }> {
  return page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    bodyScrollWidth: document.body.scrollWidth,
    viewport: window.innerWidth,
  }));
}

/** The text a person reads in an element (layout-aware: hidden text is not included). */
export async function visibleText(page: Page, selector: string): Promise<string> {
  return (await page.locator(selector).innerText()).replace(/[ \t]+/g, ' ').trim();
}

export async function subscriberStatus(t: TestDatabase, id: string): Promise<string> {
  const { rows } = await t.pool.query<{ status: string }>('select status from subscribers where id = $1', [id]);
  return rows[0]!.status;
}

/** Insert one subscriber; returns its id. */
export async function addSubscriber(t: TestDatabase, email: string, opts: { name?: string; status?: string } = {}): Promise<string> {
  const { rows } = await t.pool.query<{ id: string }>(
    `insert into subscribers (email, name, status, source) values ($1, $2, $3, 'browser-test') returning id`,
    [email, opts.name ?? null, opts.status ?? 'active'],
  );
  return rows[0]!.id;
}
