import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

/** A temporary directory for the fixtures a test file generates; removed by `cleanup()`. */
export function fixtureDir(prefix = 'import-test-'): { dir: string; write: (name: string, content: string | Buffer) => string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return {
    dir,
    write(name, content) {
      const file = path.join(dir, name);
      fs.writeFileSync(file, content);
      return file;
    },
    cleanup() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Rows of a CSV joined with the given delimiter and line end (fields are used as given). */
export function csv(rows: string[][], delimiter = ',', eol = '\n'): string {
  return rows.map((r) => r.join(delimiter)).join(eol) + eol;
}

/** Read the rejected-rows report back with an independent CSV parser. */
export function readReport(file: string): Record<string, string>[] {
  return parse(fs.readFileSync(file), { columns: true, bom: true }) as Record<string, string>[];
}

/**
 * The usual bed of an import test file: its own database (handed to `use` once created),
 * emptied of subscribers before each test, and a fixture folder removed after the file.
 */
export function importTestBed(use: (t: TestDatabase) => void): ReturnType<typeof fixtureDir> {
  let t: TestDatabase | undefined;
  const fx = fixtureDir();
  beforeAll(async () => {
    t = await createTestDatabase();
    use(t);
  });
  afterAll(async () => {
    await t?.drop();
    fx.cleanup();
  });
  beforeEach(async () => {
    await t!.pool.query('truncate subscribers cascade');
  });
  return fx;
}
