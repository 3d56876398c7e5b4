import type { Db } from '../db/types';
import { AppError } from '../errors';

/** One subscriber as import_subscribers takes it (the address already canonical). */
export interface ImportRow {
  email: string;
  name: string | null;
  source: string | null;
}

/** Typed call of import_subscribers (supabase/migrations/20261124130000_import_subscribers.sql). */
export async function importSubscriberRows(
  db: Db,
  rows: ImportRow[],
  dryRun: boolean,
): Promise<{ inserted: number; updated: number; unchanged: number }> {
  const res = await db.rpc<{ inserted: number; updated: number; unchanged: number }>('import_subscribers', {
    p_rows: rows,
    p_dry_run: dryRun,
  });
  const r = res[0];
  if (!r) throw new AppError('database', 'import_subscribers returned no row');
  return { inserted: Number(r.inserted), updated: Number(r.updated), unchanged: Number(r.unchanged) };
}
