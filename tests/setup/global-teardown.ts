import fs from 'node:fs';
import type { EmbeddedServer } from '../../scripts/db/embedded';

export default async function globalTeardown(): Promise<void> {
  const state = (globalThis as Record<string, unknown>).__TEST_PG__ as { server: EmbeddedServer; dataDir: string } | undefined;
  if (!state) return;
  await state.server.stop();
  fs.rmSync(state.dataDir, { recursive: true, force: true });
}
