import fs from 'node:fs';
import path from 'node:path';

/** Load `.env` from the project root when present (variables already set win). */
export function loadDotEnv(file = path.resolve(__dirname, '../../.env')): void {
  if (fs.existsSync(file)) process.loadEnvFile(file);
}
