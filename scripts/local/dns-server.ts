import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';

/**
 * A tiny UDP DNS server that answers TXT questions (RFC 1035 wire format): the local stack's
 * DMARC record, and the tests' DNS. `txt(name)` gives the records of a name (each a string,
 * cut into 255-byte strings on the wire), or null for NXDOMAIN; other types get no answer.
 */

export interface TxtDnsServer {
  /** "127.0.0.1:port", as DNS_SERVERS and Resolver.setServers take it. */
  address: string;
  /** How many questions arrived. */
  readonly queries: number;
  close(): Promise<void>;
}

const TXT = 16;

function readName(msg: Buffer, offset: number): { name: string; end: number } {
  const labels: string[] = [];
  let i = offset;
  while (i < msg.length && msg[i]! > 0) {
    const len = msg[i]!;
    labels.push(msg.subarray(i + 1, i + 1 + len).toString('latin1'));
    i += 1 + len;
  }
  return { name: labels.join('.').toLowerCase(), end: i + 1 };
}

function txtRecord(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length || i === 0; i += 255) {
    const chunk = bytes.subarray(i, i + 255);
    parts.push(Buffer.from([chunk.length]), chunk);
  }
  const rdata = Buffer.concat(parts);
  const head = Buffer.alloc(12);
  head.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
  head.writeUInt16BE(TXT, 2);
  head.writeUInt16BE(1, 4); // IN
  head.writeUInt32BE(60, 6); // TTL
  head.writeUInt16BE(rdata.length, 10);
  return Buffer.concat([head, rdata]);
}

export function answer(query: Buffer, txt: (name: string) => string[] | null): Buffer | null {
  if (query.length < 17) return null;
  const { name, end } = readName(query, 12);
  const qtype = query.readUInt16BE(end);
  const question = query.subarray(12, end + 4);
  const records = txt(name);
  const answers = records && qtype === TXT ? records.map(txtRecord) : [];
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2); // the id
  header.writeUInt16BE(0x8180 | (records ? 0 : 3) | (query.readUInt16BE(2) & 0x0100), 2); // QR, RA, RD echoed; NXDOMAIN without records
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  return Buffer.concat([header, question, ...answers]);
}

export async function startTxtDnsServer(txt: (name: string) => string[] | null): Promise<TxtDnsServer> {
  const socket = dgram.createSocket('udp4');
  let queries = 0;
  socket.on('message', (msg, from) => {
    queries += 1;
    const reply = answer(msg, txt);
    if (reply) socket.send(reply, from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(socket.address() as AddressInfo).port}`,
    get queries() {
      return queries;
    },
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
