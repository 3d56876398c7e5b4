import { Resolver } from 'node:dns/promises';
import { fail, ok, warn, type Check } from './check';

/** Above this many recipients, a sender without DMARC is refused (Gmail's and Yahoo's bulk-sender line). */
export const DMARC_REQUIRED_ABOVE = 5_000;

/** The TXT lookups the DMARC check makes; a node:dns Resolver is one. */
export interface TxtResolver {
  resolveTxt(name: string): Promise<string[][]>;
}

/** A resolver with a short budget; `servers` (DNS_SERVERS) replaces the system's. */
export function createTxtResolver(servers: string[]): TxtResolver {
  const resolver = new Resolver({ timeout: 2_000, tries: 2 });
  if (servers.length) resolver.setServers(servers);
  return resolver;
}

/**
 * The DMARC record's domain and its parents down to two labels. Without the public suffix
 * list the walk may also ask a suffix such as co.uk, which never holds a DMARC record.
 */
function candidates(domain: string): string[] {
  const labels = domain.toLowerCase().split('.').filter(Boolean);
  const out: string[] = [];
  for (let i = 0; i <= labels.length - 2; i += 1) out.push(labels.slice(i).join('.'));
  return out;
}

const NO_RECORD = new Set(['ENOTFOUND', 'ENODATA', 'NXDOMAIN']);

async function dmarcRecord(resolver: TxtResolver, domain: string): Promise<{ at: string; record: string } | null> {
  for (const name of candidates(domain)) {
    try {
      const records = (await resolver.resolveTxt(`_dmarc.${name}`)).map((chunks) => chunks.join(''));
      const record = records.find((r) => /^v\s*=\s*DMARC1\s*(;|$)/i.test(r.trim()));
      if (record) return { at: `_dmarc.${name}`, record: record.trim() };
    } catch (err) {
      if (!NO_RECORD.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
    }
  }
  return null;
}

/** A DMARC record at `_dmarc.<domain>` or its organizational domain, with its policy shown. */
export async function checkDmarc(resolver: TxtResolver, domain: string, recipients: number): Promise<Check> {
  const name = `DMARC (${domain})`;
  const refuse = recipients > DMARC_REQUIRED_ABOVE;
  const fix = `Publish a TXT record at _dmarc.${domain}, e.g. "v=DMARC1; p=none; rua=mailto:dmarc@${domain}" (Gmail and Yahoo require one of bulk senders).`;
  let found;
  try {
    found = await dmarcRecord(resolver, domain);
  } catch (err) {
    const detail = `the DNS lookup failed (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
    return refuse ? fail(name, `${detail}; required above ${DMARC_REQUIRED_ABOVE.toLocaleString('en-US')} recipients`, 'Run the check again; if it keeps failing, check the DNS of the domain.') : warn(name, detail, 'Run the check again.');
  }
  if (!found) {
    const detail = `no DMARC record at _dmarc.${domain} or its organizational domain`;
    return refuse ? fail(name, `${detail}; required above ${DMARC_REQUIRED_ABOVE.toLocaleString('en-US')} recipients (this list: ${recipients.toLocaleString('en-US')})`, fix) : warn(name, detail, fix);
  }
  const policy = /(?:^|;)\s*p\s*=\s*([a-z]+)/i.exec(found.record)?.[1]?.toLowerCase() ?? 'none';
  return ok(name, `${found.at}: p=${policy}`);
}
