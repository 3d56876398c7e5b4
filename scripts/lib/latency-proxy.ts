import net from 'node:net';

/**
 * A TCP proxy on loopback (port 0) that delays every chunk by `oneWayMs` in each direction:
 * the network between a Vercel function and a database in another region, for benches.
 * Order within a direction is kept (one timer per chunk, all of the same delay, fire in order).
 * For chaos tests it can also hold one answer on the way back (`holdAnswerTo`): the server
 * has done the work (a transaction committed), the client hears of it only on `release()`, as
 * after a frozen function instance or a pooler stall.
 */
export interface LatencyProxy {
  port: number;
  /** Connections opened through the proxy so far. */
  readonly connections: number;
  /**
   * The next request whose bytes contain `marker` gets its answer held: everything the server
   * sends back on that connection waits until `release()`. `held` resolves once the server's
   * answer has arrived at the proxy (and is being held).
   */
  holdAnswerTo(marker: string): HeldAnswer;
  close(): Promise<void>;
}

export interface HeldAnswer {
  held: Promise<void>;
  release(): void;
}

interface Hold {
  marker: Buffer;
  buffered: Buffer[] | null;
  answered: () => void;
  released: boolean;
  flush: (() => void) | null;
}

export async function startLatencyProxy(target: { host: string; port: number }, oneWayMs: number): Promise<LatencyProxy> {
  const sockets = new Set<net.Socket>();
  let connections = 0;
  /** A hold asked for and not yet matched to a request. */
  let armed: Hold | null = null;
  const forward = (to: net.Socket, chunk: Buffer) =>
    setTimeout(() => {
      if (!to.destroyed) to.write(chunk);
    }, oneWayMs);
  /** `conn.hold`: the hold matched to a request on this connection, for its answers. */
  const delayed = (from: net.Socket, to: net.Socket, conn: { hold: Hold | null }, direction: 'request' | 'answer') => {
    from.on('data', (chunk: Buffer) => {
      if (direction === 'request' && armed && chunk.includes(armed.marker)) {
        conn.hold = armed;
        armed = null;
      }
      const h = direction === 'answer' ? conn.hold : null;
      if (h && !h.released) {
        h.buffered ??= [];
        h.buffered.push(chunk);
        h.flush = () => h.buffered!.forEach((c) => forward(to, c));
        h.answered();
        return;
      }
      forward(to, chunk);
    });
    from.on('end', () => setTimeout(() => to.end(), oneWayMs));
    from.on('error', () => to.destroy());
    from.on('close', () => setTimeout(() => to.destroy(), oneWayMs));
  };
  const server = net.createServer((client) => {
    connections += 1;
    client.setNoDelay(true);
    const upstream = net.connect({ host: target.host, port: target.port, noDelay: true });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    }
    const conn = { hold: null as Hold | null };
    delayed(client, upstream, conn, 'request');
    delayed(upstream, client, conn, 'answer');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    get connections() {
      return connections;
    },
    holdAnswerTo(marker) {
      let answered!: () => void;
      const held = new Promise<void>((resolve) => (answered = resolve));
      const h: Hold = { marker: Buffer.from(marker), buffered: null, answered, released: false, flush: null };
      armed = h;
      return {
        held,
        release() {
          h.released = true;
          h.flush?.();
        },
      };
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The same URL with its host and port replaced by the proxy's. */
export function throughProxy(url: string, proxy: LatencyProxy): string {
  const u = new URL(url);
  u.hostname = '127.0.0.1';
  u.port = String(proxy.port);
  return u.toString();
}
