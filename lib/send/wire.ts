import { createApp } from '../app';
import type { Config } from '../config';
import type { SendDeps } from './index';

/** Temporary: scripts/bench/send.ts still imports this; the composition root is lib/app.ts. */
export function sendDepsFromConfig(config: Config, opts: { startedAt?: number; letterFile?: string } = {}): SendDeps {
  return createApp(config).sendDeps(opts);
}
