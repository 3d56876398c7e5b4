/**
 * How many Postgres connections one instance of each Vercel function may open (its pool's
 * `max`), and how many instances of it we plan to see at once. Every connection a function
 * opens to Supabase's transaction pooler (port 6543) is one pooler client, and the smallest
 * compute (Nano and Micro) takes 200 of them and 60 database connections
 * (https://supabase.com/docs/guides/platform/compute-add-ons). The pooler itself opens at most
 * its "Pool Size" database connections, whatever the clients; the rest of the 60 is left to
 * Supabase's own services (PostgREST, Auth, Storage) and to migrations.
 *
 * Past the planned instances, a connection the pooler refuses fails that request (SNS
 * retries an event; a reader retries a link), it does not corrupt anything.
 */
export interface FunctionPool {
  /** The pool's `max` in one instance. */
  connections: number;
  /** Instances we plan to see at once. */
  instances: number;
  why: string;
}

export const FUNCTION_POOLS = {
  'send-mailout': {
    connections: 4,
    instances: 4,
    why: "the send loop's claim, mark, outcome and feedback check go at once; two mailouts at once, each invocation overlapping its continuation",
  },
  'cron-resume': { connections: 1, instances: 1, why: 'one query at a time; the cron runs once a minute at most' },
  'ses-events': {
    connections: 1,
    instances: 60,
    why: 'one SQL call per SNS message; a burst of deliveries, bounces and complaints scales out in instances, not connections',
  },
  unsubscribe: { connections: 1, instances: 20, why: 'one SQL call per click; mail scanners open links in bursts' },
  view: { connections: 1, instances: 20, why: 'one read per page view (cacheable)' },
  report: { connections: 1, instances: 2, why: 'one read at a time; opened by the publisher' },
  health: { connections: 1, instances: 2, why: 'one query' },
} as const satisfies Record<string, FunctionPool>;

export type FunctionName = keyof typeof FUNCTION_POOLS;

/** Supabase's smallest compute (Nano, Micro). */
export const SMALLEST_COMPUTE = { poolerClients: 200, databaseConnections: 60 } as const;

/**
 * An idle connection closes after this long. `attachDatabasePool` keeps a Vercel instance
 * alive until then, so a suspended instance holds no pooler client.
 */
export const IDLE_TIMEOUT_MS = 5_000;

/** A process that is not one function (the local server, a command, a test): the pool pg would give. */
export const DEFAULT_POOL_CONNECTIONS = 10;

export function poolConnectionsFor(fn: FunctionName | undefined): number {
  return fn ? FUNCTION_POOLS[fn].connections : DEFAULT_POOL_CONNECTIONS;
}

/** Pooler clients the planned instances hold at most. */
export function plannedPoolerClients(): number {
  return Object.values(FUNCTION_POOLS).reduce((sum, p: FunctionPool) => sum + p.connections * p.instances, 0);
}
