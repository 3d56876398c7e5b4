import type { Values } from './env';
import { optionalString } from './parsers';

/** What a letter carries beyond its page: the sender's postal address (a live send refuses without it), the list's name, where its images go. */
export const letterVariables = {
  FOOTER_ADDRESS: optionalString,
  LIST_NAME: optionalString,
  SUPABASE_STORAGE_BUCKET: optionalString,
};

export interface LetterConfig {
  footerAddress?: string;
  listName?: string;
  storageBucket?: string;
}

export function letterOf(env: Values<typeof letterVariables>): LetterConfig {
  return { footerAddress: env.FOOTER_ADDRESS, listName: env.LIST_NAME, storageBucket: env.SUPABASE_STORAGE_BUCKET };
}
