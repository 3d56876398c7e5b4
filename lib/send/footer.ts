import type { Config } from '../config';
import { AppError } from '../errors';

/**
 * The sender's postal address in every letter's footer (FOOTER_ADDRESS): anti-spam laws
 * (CAN-SPAM, and the rules Gmail and Yahoo apply to bulk senders) require it. A live send
 * refuses to start without it; test sends and previews go out with a warning.
 */

const WHAT_TO_SET =
  'set FOOTER_ADDRESS to the postal address to print in the footer (write \\n between lines), in .env or the Vercel dashboard';

export function footerAddressWarnings(config: Pick<Config, 'footerAddress'>): string[] {
  return config.footerAddress?.trim() ? [] : [`FOOTER_ADDRESS is not set: the footer has no postal address, and a live send will be refused; ${WHAT_TO_SET}.`];
}

/** Before anything is claimed: a live send without the address is refused (412). */
export function requireFooterAddress(config: Pick<Config, 'footerAddress'>): void {
  if (config.footerAddress?.trim()) return;
  throw new AppError(
    'precondition_failed',
    `FOOTER_ADDRESS is not set: a live send needs the sender's postal address in the footer (required by anti-spam laws); ${WHAT_TO_SET}. Nothing was sent.`,
  );
}
