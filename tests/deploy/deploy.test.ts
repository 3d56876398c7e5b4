import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { waitUntil } from '@vercel/functions';
import { createSesEventsHandler } from '../../api/ses-events';
import { getConfig, resetConfig } from '../../lib/config';
import { getDb } from '../../lib/db';
import { freePort } from '../../scripts/db/embedded';
import { startApiServer } from '../../scripts/local/api-server';
import { notionCountsRefresher } from '../../lib/app';
import { createSnsSigner } from '../../scripts/fakes/sns';
import {
  builtRoutes,
  dirSize,
  envReadByBuild,
  escapingSymlinks,
  ignoredByVercel,
  isolateFunctions,
  largestPackages,
  listFiles,
  node22,
  ROOT,
  startDeployment,
  startFunction,
  tempDir,
  vercelBuild,
  type BuildResult,
  type Deployment,
} from './built-functions';
import { createLedger } from '../../lib/db/ledger';
import { reportUrl } from '../../lib/report';
import { seedSubscribers, STORED_LETTER, copyAllRecipients } from '../helpers/db';
import { makeWorld, PAGE, REPORT_SECRET, runSession, type Step } from './scenario';

/**
 * The deployed artifact, tested: `vercel build` (the pinned CLI, offline) on the files a
 * deployment gets, then every built function loaded by Node 22 (what Vercel runs) and by the
 * local Node from its own files, outside the repository, and called over HTTP through a
 * harness that invokes it as Vercel's Node runtime does. The same session runs against the
 * local server (scripts/local/api-server.ts over the .ts sources); any difference fails.
 * Figures (cold start, bundle size) are printed, not asserted.
 */

let build: BuildResult;
let isolated: string;
const figures: string[] = [];
const temps: string[] = [];

beforeAll(() => {
  build = vercelBuild();
  isolated = isolateFunctions(build.outputDir);
  temps.push(build.workDir, isolated);
}, 20 * 60_000);

afterAll(() => {
  if (figures.length) process.stdout.write(`\nDeploy figures (cold start = process start to listening + first request):\n${figures.join('\n')}\n`);
  for (const dir of temps) fs.rmSync(dir, { recursive: true, force: true });
});

test('the build publishes public/ and nothing else as static files', () => {
  expect(listFiles(path.join(build.outputDir, 'static')).sort()).toEqual(['robots.txt']);
});

test('a deployment from a working copy leaves out local data, every .env file, tests and scripts', () => {
  const privatePaths = ['.data/postgres/base/1/1259', '.data/executor-secret', '.env', '.env.production', '.env.local', 'tests/deploy/deploy.test.ts', 'scripts/start.ts', '.ci/run', 'test-artifacts/browser/x.png', '.vercel/project.json', 'supabase/.temp/cli-latest'];
  const needed = ['api/health.ts', 'lib/config/index.ts', 'package.json', 'package-lock.json', 'tsconfig.json', 'vercel.json', 'public/robots.txt'];
  const ignored = ignoredByVercel([...privatePaths, ...needed]);
  expect(privatePaths.filter((p) => !ignored.has(p))).toEqual([]);
  expect(needed.filter((p) => ignored.has(p))).toEqual([]);
});

test('each built function has the maxDuration vercel.json gives it (its one source)', () => {
  const vercel = JSON.parse(fs.readFileSync(path.join(ROOT, 'vercel.json'), 'utf8')) as { functions: Record<string, { maxDuration: number }> };
  const routes = builtRoutes(path.join(build.outputDir, 'functions'));
  expect([...routes.keys()].sort()).toEqual(Object.keys(vercel.functions).map((f) => `/${f.replace(/\.ts$/, '')}`).sort());
  for (const [file, { maxDuration }] of Object.entries(vercel.functions)) {
    const dir = routes.get(`/${file.replace(/\.ts$/, '')}`)!;
    const vc = JSON.parse(fs.readFileSync(path.join(dir, '.vc-config.json'), 'utf8')) as { maxDuration?: number };
    expect({ file, maxDuration: vc.maxDuration }).toEqual({ file, maxDuration });
  }
});

test('vercel.json deploys on Hobby: no cron more often than daily, no maxDuration above 300 s', () => {
  const config = JSON.parse(fs.readFileSync(path.join(build.outputDir, 'config.json'), 'utf8')) as { crons?: { path: string; schedule: string }[] };
  expect(config.crons?.length).toBeGreaterThan(0);
  for (const cron of config.crons ?? []) {
    const [minute, hour] = cron.schedule.split(/\s+/);
    // Once a day at most: a single minute of a single hour.
    expect(`${cron.path} ${minute} ${hour}`).toMatch(/^\S+ \d+ \d+$/);
  }
  for (const dir of builtRoutes(path.join(build.outputDir, 'functions')).values()) {
    const vc = JSON.parse(fs.readFileSync(path.join(dir, '.vc-config.json'), 'utf8')) as { maxDuration?: number; runtime: string };
    expect(vc.maxDuration ?? 0).toBeLessThanOrEqual(300);
    expect(vc.runtime).toBe('nodejs22.x');
  }
});

test('the README deploy steps name every variable the built functions read, and none that only the local stack uses', () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const from = readme.indexOf('## Deploy');
  const deploy = readme.slice(from, readme.indexOf('\n## ', from + 1));
  const named = new Set([...deploy.matchAll(/`([A-Z][A-Z0-9_]{2,})`/g)].map((m) => m[1]!));
  const read = envReadByBuild(path.join(build.outputDir, 'functions'));
  const localOnly = ['SES_ENDPOINT', 'NOTION_BASE_URL', 'PORT', 'SNS_ENDPOINT', 'DNS_SERVERS'];
  expect(read.has('EXECUTOR_SHARED_SECRET')).toBe(true);
  expect([...read].filter((v) => !localOnly.includes(v) && !named.has(v)).sort()).toEqual([]);
  expect(localOnly.filter((v) => named.has(v))).toEqual([]);
});

test('each built function carries its own files (no link out of its folder)', () => {
  for (const [route, dir] of builtRoutes(path.join(isolated, 'functions'))) {
    expect({ route, links: escapingSymlinks(dir) }).toEqual({ route, links: [] });
  }
});

/** The local server's session (scripts/local/api-server.ts over the .ts sources), run once. */
async function localSession(): Promise<Step[]> {
  const sns = createSnsSigner();
  const world = await makeWorld(sns);
  const saved = { ...process.env };
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  Object.assign(process.env, world.env(origin));
  resetConfig();
  // The same wiring as api/ses-events.ts POST, with the SNS certificate from the test key.
  const api = await startApiServer({
    rootDir: ROOT,
    port,
    routes: {
      '/api/ses-events': {
        POST: createSesEventsHandler(() => {
          const config = getConfig();
          const db = getDb(config);
          return { db, config, fetchCertificate: sns.fetchStub, refreshNotionCounts: notionCountsRefresher(config, db), waitUntil: (p) => waitUntil(p) };
        }),
      },
    },
  });
  try {
    return await runSession({ url: api.url, idle: () => api.idle() }, world, new Set());
  } finally {
    await api.close();
    await world.close();
    process.env = saved;
    resetConfig();
  }
}
let referenceRun: Promise<Step[]> | undefined;
const reference = (): Promise<Step[]> => (referenceRun ??= localSession());

test('the local server: the reference session', async () => {
  const steps = await reference();
  const by = (name: string) => steps.find((s) => s.step === name)!;
  expect(by('health')).toMatchObject({ status: 200, body: { ok: true, database: 'postgres' } });
  expect(by('a method send-mailout does not export')).toMatchObject({ status: 405, body: '' });
  expect(by('send without secret').status).toBe(401);
  expect([200, 202]).toContain(by('send').status);
  expect(by('after send').body).toMatchObject({ mailout: 'sent', inbox: expect.arrayContaining([expect.stringContaining('reader1@example.net')]) });
  expect((by('after send').body as { inbox: string[] }).inbox).toHaveLength(3);
  expect(by('unsubscribe page')).toMatchObject({ status: 200, type: expect.stringContaining('text/html') });
  expect(by('one-click unsubscribe').status).toBe(200);
  expect(by('signed SNS bounce').status).toBe(200);
  expect(by('subscribers').body).toEqual(['reader1@example.net unsubscribed', 'reader2@example.net bounced', 'reader3@example.net active']);
  expect(by('report')).toMatchObject({ status: 200, type: expect.stringContaining('text/csv') });
  expect(by('cron without secret').status).toBe(401);
  expect(by('cron resumes an expired lease')).toMatchObject({ status: 200, body: { resumed: [PAGE] } });
  expect(by('after cron').body).toEqual({ mailout: 'sent', inbox: 3 });
  expect(by("the pg_cron job's request")).toMatchObject({ status: 200, body: { resumed: [PAGE] } });
  expect(by('after the pg_cron job').body).toEqual({ mailout: 'sent', inbox: 3 });
});

describe.each([
  ['Node 22 (Vercel)', () => node22()],
  [`the local Node ${process.version}`, () => process.execPath],
])('built functions on %s', (label, nodeBinary) => {
  test('load from their own files and answer every call as the local server does', async () => {
    const expected = await reference();
    const sns = createSnsSigner();
    const world = await makeWorld(sns);
    const stubs = path.join(tempDir('fetch-stubs-'), 'stubs.json');
    temps.push(path.dirname(stubs));
    fs.writeFileSync(stubs, JSON.stringify({ [sns.certUrl]: sns.certPem }));
    let deployment: Deployment | undefined;
    const called = new Set<string>();
    try {
      deployment = await startDeployment(nodeBinary(), isolated, (origin) => ({ ...world.env(origin), HARNESS_FETCH_STUBS: stubs }));
      const steps = await runSession({ url: deployment.url, idle: () => deployment!.idle() }, world, called);
      expect(steps).toEqual(expected);
      // Every built function was called: a new api/ file needs its case in scenario.ts.
      expect([...builtRoutes(path.join(isolated, 'functions')).keys()].filter((r) => !called.has(r))).toEqual([]);
      const version = execFileSync(nodeBinary(), ['--version'], { encoding: 'utf8' }).trim();
      for (const f of deployment.functions) {
        const bytes = dirSize(builtRoutes(path.join(isolated, 'functions')).get(f.route)!);
        figures.push(
          `  ${version.padEnd(9)} ${f.route.padEnd(22)} load ${f.loadMs.toFixed(0).padStart(5)} ms + first request ${(f.firstRequestMs ?? NaN).toFixed(0).padStart(5)} ms   bundle ${(bytes / 1e6).toFixed(1)} MB`,
        );
      }
    } catch (err) {
      const logs = deployment?.functions.map((f) => `--- ${f.route}\n${f.output()}`).join('\n') ?? '';
      throw new Error(`${(err as Error).message}\n${logs}`);
    } finally {
      await deployment?.stop();
      await world.close();
    }
    expect(label).toBeTruthy();
  });
});

test('the built report function on Node 22 streams a report over 4.5 MB (40,000 recipients) whole: every row', async () => {
  const world = await makeWorld();
  const dir = builtRoutes(path.join(isolated, 'functions')).get('/api/report')!;
  const mailoutId = '0d4e5f60-7182-4394-a5b6-c7d8e9f0a1b2';
  await seedSubscribers(world.t.pool, 40_000, { prefix: 'a-rather-long-reader-address-for-the-report-' });
  await createLedger(world.t.db).claim(mailoutId, { leaseSeconds: 60, content: STORED_LETTER });
  await copyAllRecipients(world.t.pool, mailoutId);
  await world.t.pool.query(`update deliveries set status = 'sent', ses_message_id = '0100018c-' || subscriber_id || '-000000', attempts = 1 where mailout_id = $1`, [mailoutId]);
  const fn = await startFunction(node22(), path.join(isolated, 'harness.cjs'), '/api/report', dir, world.env('http://127.0.0.1:1'));
  try {
    const link = new URL(reportUrl({ appBaseUrl: `http://127.0.0.1:${fn.port}`, reportSecret: REPORT_SECRET }, mailoutId));
    const res = await fetch(`http://127.0.0.1:${fn.port}/api/report${link.search}`);
    expect(res.status).toBe(200);
    const csv = Buffer.from(await res.arrayBuffer());
    expect(csv.length).toBeGreaterThan(4.5 * 1024 * 1024);
    expect([...csv.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const lines = csv.toString('utf8').split('\r\n');
    // The world's three readers are on the list too.
    expect(lines).toHaveLength(40_003 + 2);
    expect(new Set(lines.slice(1, -1).map((l) => l.split(',')[0])).size).toBe(40_003);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${fn.output()}`);
  } finally {
    await fn.stop();
    await world.close();
  }
});

test('bundle sizes: the largest function and what dominates it', () => {
  const sizes = [...builtRoutes(path.join(isolated, 'functions'))].map(([route, dir]) => ({ route, dir, bytes: dirSize(dir) }));
  const largest = sizes.sort((a, b) => b.bytes - a.bytes)[0]!;
  const mb = (list: { name: string; bytes: number }[]) => list.map((p) => `${p.name} ${(p.bytes / 1e6).toFixed(1)} MB`).join(', ');
  const top = largestPackages(largest.dir, 4);
  figures.push(`  largest: ${largest.route} ${(largest.bytes / 1e6).toFixed(1)} MB; by package: ${mb(top)}; by scope: ${mb(largestPackages(largest.dir, 4, true))}`);
  expect(top.length).toBeGreaterThan(0);
});
