export type { Db } from './types';
export { createPostgresDb } from './postgres';
export { createSupabaseDb } from './supabase';
export * from './connect';
