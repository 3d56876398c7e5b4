import { columns } from './rows';
import type { Db } from './types';

/** Typed calls of the SQL functions that change a subscriber (the unsubscribe link's). */

export const SUBSCRIBER_STATUSES = ['active', 'unsubscribed', 'bounced', 'complained'] as const;
export type SubscriberStatus = (typeof SUBSCRIBER_STATUSES)[number];

export interface SubscriberChange {
  subscriberId: string;
  email: string;
  status: SubscriberStatus;
  changed: boolean;
}

/** A row of unsubscribe / resubscribe. */
export function toSubscriberChange(row: Record<string, unknown>, fn: string): SubscriberChange {
  const c = columns(fn, row);
  return { subscriberId: c.text('subscriber_id'), email: c.text('email'), status: c.oneOf('status', SUBSCRIBER_STATUSES), changed: c.flag('changed') };
}

export interface SubscriberQueries {
  /** active -> unsubscribed. Null when no such subscriber. */
  unsubscribe(subscriberId: string): Promise<SubscriberChange | null>;
  /** unsubscribed -> active only. Null when no such subscriber. */
  resubscribe(subscriberId: string): Promise<SubscriberChange | null>;
}

export function subscriberQueries(db: Db): SubscriberQueries {
  const change = async (fn: 'unsubscribe' | 'resubscribe', subscriberId: string) => {
    const row = (await db.rpc(fn, { p_subscriber_id: subscriberId }))[0];
    return row ? toSubscriberChange(row, fn) : null;
  };
  return {
    unsubscribe: (subscriberId) => change('unsubscribe', subscriberId),
    resubscribe: (subscriberId) => change('resubscribe', subscriberId),
  };
}
