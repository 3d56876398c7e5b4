/**
 * `npm start`: the whole product on this machine — embedded Postgres (data in .data/),
 * the SES emulator with its web inbox, every api/ route on PORT (3000).
 * `npm start -- --demo` also imports a sample list and sends a sample mailout.
 */
import path from 'node:path';
import { startLocalStack } from '../lib/local/stack';
import { loadDotEnv } from './lib/env';

async function main(): Promise<void> {
  loadDotEnv();
  const args = process.argv.slice(2);
  const demo = args.includes('--demo');
  const rootDir = path.resolve(__dirname, '..');
  const port = Number(process.env.PORT ?? 3000);
  const stack = await startLocalStack({
    rootDir,
    port,
    sesPort: process.env.SES_ENDPOINT ? undefined : Number(process.env.SES_PORT ?? 8005),
    onLog: (line) => {
      if (/migration applied/.test(line)) console.log(line);
    },
  });

  const health = await fetch(`${stack.apiUrl}/api/health`);
  console.log(`
Local mailout stack is up.

  API            ${stack.apiUrl}/api/*   (health: ${health.status === 200 ? 'ok' : `HTTP ${health.status}`})
  SES inbox      ${stack.inboxUrl ?? `${stack.sesUrl} (your SES_ENDPOINT)`}
  Database       ${stack.databaseUrl ? stack.databaseUrl.replace(/:[^:@/]+@/, ':***@') : 'Supabase (SUPABASE_URL)'}
  Secret         ${stack.secret}   (EXECUTOR_SHARED_SECRET)

Send a mailout (a Notion page id, with NOTION_TOKEN set):
  curl -X POST ${stack.apiUrl}/api/send-mailout -H 'content-type: application/json' \\
       -d '{"mailout_id":"<notion-page-id>","auth_token":"${stack.secret}"}'
`);

  if (demo) {
    const { runDemo } = await import('../lib/local/demo.js');
    await runDemo({ rootDir, stack });
  }

  const shutdown = async () => {
    console.log('\nstopping...');
    await stack.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
  if (demo && process.env.DEMO_EXIT === '1') await shutdown();
}

main().catch((err: Error) => {
  console.error(`npm start failed: ${err.message}`);
  process.exit(1);
});
