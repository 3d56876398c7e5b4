import vercel from '../vercel.json';

/**
 * Each function's `maxDuration` (seconds) is set in vercel.json and nowhere else: Vercel
 * reads it there, the local server (scripts/local/api-server.ts) too, and the send engine takes
 * its fallback deadline from it (when the platform gives none).
 */
export function functionMaxDurationSeconds(file: keyof typeof vercel.functions): number {
  return vercel.functions[file].maxDuration;
}
