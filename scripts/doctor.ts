/**
 * `npm run doctor`: is this sender ready for a live send? One line per check (lib/readiness):
 * ✔ ready, ⚠ a warning, ✖ refuses a live send, each with what to fix.
 * Exit codes: 0 ready, 1 a ✖ remains, 2 usage or configuration error.
 */
import { loadConfig } from '../lib/config';
import { isAppError } from '../lib/errors';
import { runDoctor } from './doctor/doctor';
import { loadCliEnv } from './lib/env';

const USAGE = 'usage: npm run doctor   (reads .env; asks SES, SNS, DNS, Notion and the database)';

async function main(): Promise<number> {
  loadCliEnv({ database: true });
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  if (args.length) {
    console.error(`Unknown argument ${args.join(' ')}.\n${USAGE}`);
    return 2;
  }
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    console.error(isAppError(err) ? err.message : String(err));
    return 2;
  }
  const { lines, code } = await runDoctor(config);
  console.log(lines.join('\n'));
  return code;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`doctor failed: ${isAppError(err) ? err.message : err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  },
);
