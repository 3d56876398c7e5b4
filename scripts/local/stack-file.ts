import fs from 'node:fs';
import path from 'node:path';

/**
 * `stack.json` in the local data folder (`.data/`): how to reach the running `npm start` (its database above all), so the
 * command-line tools find it without the user copying a URL. Written by `npm start` once the
 * stack is up (mode 0600: it holds the local database's password), removed when it stops.
 */
export interface StackFile {
  pid: number;
  databaseUrl?: string;
  apiUrl: string;
  sesUrl: string;
  startedAt: string;
}

export function stackFilePath(dataDir: string): string {
  return path.join(dataDir, 'stack.json');
}

export function writeStackFile(dataDir: string, info: StackFile): string {
  const file = stackFilePath(dataDir);
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(tmp, file);
  return file;
}

/** Removes the file if it is this process's (another `npm start` may have written its own). */
export function removeStackFile(dataDir: string, pid = process.pid): void {
  const file = stackFilePath(dataDir);
  try {
    const info = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<StackFile>;
    if (info.pid === pid) fs.rmSync(file, { force: true });
  } catch {
    // Absent or unreadable: nothing of ours to remove.
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The running stack's file, or null when there is none or its process is gone (a stale file is removed). */
export function readStackFile(dataDir: string): StackFile | null {
  const file = stackFilePath(dataDir);
  let info: StackFile;
  try {
    info = JSON.parse(fs.readFileSync(file, 'utf8')) as StackFile;
  } catch {
    return null;
  }
  if (!Number.isInteger(info.pid) || !alive(info.pid)) {
    fs.rmSync(file, { force: true });
    return null;
  }
  return info;
}
