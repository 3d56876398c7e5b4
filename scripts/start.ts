/**
 * `npm start`: the whole product on this machine — embedded Postgres (data in .data/, or
 * LOCAL_DATA_DIR), the SES emulator with its web inbox (8005), every api/ route (3000).
 * `npm start -- --demo` also imports a sample list and sends a sample mailout.
 * PORT / SES_PORT set: exactly that port (0: any free one); unset: the default when free,
 * else any free port. The real URLs are printed, and written to stack.json in the data folder
 * for the command-line tools while the stack runs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { startLocalStack } from './local/stack';
import { env, loadConfig } from '../lib/config';
import { readStackFile, removeStackFile, writeStackFile } from './local/stack-file';
import { loadCliEnv, localDataDir, ROOT_DIR } from './lib/env';

function portFrom(name: string): number | undefined {
  const raw = env(name);
  if (!raw) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${name} must be a port number (0 to 65535; 0 picks a free one), not "${raw}".`);
  return n;
}

/** A process's parent pid (Linux /proc; this process's own anywhere); undefined once it is gone. */
function parentOf(pid: number): number | undefined {
  if (pid === process.pid) return process.ppid;
  try {
    // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces and parentheses.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** This process and, when npm started it, its shell: each with the parent it has now. */
function launcherChain(): { pid: number; ppid: number }[] {
  const chain = [{ pid: process.pid, ppid: process.ppid }];
  const shellsParent = env('npm_lifecycle_event') ? parentOf(process.ppid) : undefined;
  if (shellsParent !== undefined) chain.push({ pid: process.ppid, ppid: shellsParent });
  return chain;
}

async function main(): Promise<void> {
  loadCliEnv();
  const args = process.argv.slice(2);
  const demo = args.includes('--demo');
  const dataDir = localDataDir();
  const running = readStackFile(dataDir);
  if (running) {
    throw new Error(`the local stack already runs (pid ${running.pid}, API ${running.apiUrl}); stop it first (Ctrl-C in its terminal, or kill ${running.pid}).`);
  }

  // Stopping: on Ctrl-C, `kill` (SIGTERM) and a closed terminal (SIGHUP) alike.
  let stopping: Promise<void> | undefined;
  let stopStack: (() => Promise<void>) | undefined;
  const shutdown = (code: number) => {
    if (stopping) return stopping;
    stopping = (async () => {
      console.log('\nstopping...');
      removeStackFile(dataDir);
      await stopStack?.();
      process.exit(code);
    })();
    return stopping;
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      // A second signal while stopping: stop now (Postgres is told to stop on exit).
      if (stopping) process.exit(1);
      void shutdown(0);
    });
  }
  process.on('exit', () => removeStackFile(dataDir));
  // `kill <npm's pid>` never reaches this process (npm forwards SIGTERM to its shell only, and
  // SIGHUP not at all): when npm or its shell is gone, stop as if signalled.
  const watched = launcherChain();
  setInterval(() => {
    if (watched.some(({ pid, ppid }) => parentOf(pid) !== ppid)) void shutdown(0);
  }, 250).unref();

  const stack = await startLocalStack({
    rootDir: ROOT_DIR,
    dataDir,
    port: portFrom('PORT'),
    preferredPort: 3000,
    sesPort: portFrom('SES_PORT'),
    preferredSesPort: 8005,
    onLog: (line) => {
      if (/migration applied|is busy|postgres data in/.test(line)) console.log(line.trim());
    },
  });
  stopStack = () => stack.stop();
  if (stopping) return;
  writeStackFile(dataDir, {
    pid: process.pid,
    ...(stack.databaseUrl ? { databaseUrl: stack.databaseUrl } : {}),
    apiUrl: stack.apiUrl,
    sesUrl: stack.sesUrl,
    startedAt: new Date().toISOString(),
  });

  const health = await fetch(`${stack.apiUrl}/api/health`);
  console.log(`
Local mailout stack is up.

  API            ${stack.apiUrl}/api/*   (health: ${health.status === 200 ? 'ok' : `HTTP ${health.status}`})
  SES inbox      ${stack.inboxUrl ?? `${stack.sesUrl} (your SES_ENDPOINT)`}
  Database       ${stack.databaseUrl ? stack.databaseUrl.replace(/:[^:@/]+@/, ':***@') : 'Supabase (SUPABASE_URL)'}
  Secret         ${stack.secret}   (EXECUTOR_SHARED_SECRET)

While this runs, the other commands (npm run report, import, send, migrate) use this database
when DATABASE_URL is not set (${path.relative(ROOT_DIR, dataDir) || '.'}/stack.json).

Send a mailout (a Notion page id, with NOTION_TOKEN set):
  curl -X POST ${stack.apiUrl}/api/send-mailout -H 'content-type: application/json' \\
       -d '{"mailout_id":"<notion-page-id>","auth_token":"${stack.secret}"}'
`);

  // The local stack answers the sender readiness checks as the emulator is: ready.
  const { runDoctor } = await import('./doctor/doctor.js');
  console.log(`Sender readiness (npm run doctor):\n${(await runDoctor(loadConfig())).lines.map((l) => `  ${l}`).join('\n')}\n`);

  if (demo) {
    const { runDemo } = await import('./local/demo.js');
    await runDemo({ rootDir: ROOT_DIR, stack });
  }
  if (demo && env('DEMO_EXIT') === '1') await shutdown(0);
}

main().catch((err: Error) => {
  console.error(`npm start failed: ${err.message}`);
  process.exit(1);
});
