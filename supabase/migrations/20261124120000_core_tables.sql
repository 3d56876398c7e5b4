-- Core tables of the mailout executor.
--
-- Everything that must never be wrong lives here: the subscriber list, the claim of each
-- mailout, one ledger row per recipient, and the SES feedback events. Every table has RLS
-- enabled with no policy for `anon` or `authenticated`, and those roles hold no privilege
-- on it: Supabase exposes the `public` schema through its REST API, and nothing here is for
-- the browser. Only `service_role` (the executor) reads and writes.


-- ---------------------------------------------------------------------------------------
-- subscribers: the list. Email is unique case-insensitively; the stored spelling is kept.
-- ---------------------------------------------------------------------------------------
create table public.subscribers (
  id                 uuid primary key default gen_random_uuid(),
  email              text not null check (length(email) between 3 and 320 and position('@' in email) > 1),
  from_name          text,
  status             text not null default 'active'
                     check (status in ('active', 'unsubscribed', 'bounced')),
  bounce_type        text,
  bounce_subtype     text,
  status_updated_at  timestamptz not null default now(),
  soft_bounce_count  integer not null default 0 check (soft_bounce_count >= 0),
  source             text,
  created_at         timestamptz not null default now()
);
comment on table public.subscribers is
  'The subscriber list. An import never moves a subscriber back to active.';
create unique index subscribers_email_ci_key on public.subscribers (lower(email));
-- The claim snapshots the active subscribers; this keeps that scan cheap on a large list.
create index subscribers_active_idx on public.subscribers (id) include (email) where status = 'active';

alter table public.subscribers enable row level security;
revoke all on table public.subscribers from public, anon, authenticated;
grant select, insert, update, delete on table public.subscribers to service_role;

-- ---------------------------------------------------------------------------------------
-- mailouts: one row per mailout once claimed (a Notion page without a row is "ready").
-- The lease (token + expiry) says which invocation may send; an expired lease may be resumed.
-- ---------------------------------------------------------------------------------------
create table public.mailouts (
  id           text primary key check (length(id) between 1 and 200),
  subject      text,
  status       text not null check (status in ('sending', 'paused', 'sent', 'failed')),
  lease_token  uuid,
  lease_until  timestamptz,
  recipients   integer not null default 0,
  sent         integer not null default 0,
  failed       integer not null default 0,
  skipped      integer not null default 0,
  unknown      integer not null default 0,
  created_at   timestamptz not null default now(),
  started_at   timestamptz,
  sent_at      timestamptz,
  updated_at   timestamptz not null default now(),
  last_error   text,
  -- The rendered letter (subject, html, text) fixed at the claim, so every invocation that
  -- resumes the mailout sends the very same letter without reading Notion again.
  content      jsonb
);
comment on table public.mailouts is
  'The claim of each mailout. sending -> sent | paused | failed; paused, failed and expired-lease sending may be resumed.';
create index mailouts_expired_lease_idx on public.mailouts (lease_until) where status = 'sending';

alter table public.mailouts enable row level security;
revoke all on table public.mailouts from public, anon, authenticated;
grant select, insert, update, delete on table public.mailouts to service_role;

-- ---------------------------------------------------------------------------------------
-- deliveries: the ledger, one row per recipient of a mailout (the spec's send_logs).
-- queued -> sending -> sent | failed; queued -> skipped; sending (crashed) -> unknown.
-- A row that reached `sending` is never handed out again: at most once per recipient.
-- ---------------------------------------------------------------------------------------
create table public.deliveries (
  mailout_id      text not null references public.mailouts (id) on delete cascade,
  -- No foreign key to subscribers: the ledger is history (the address is copied in), and a
  -- per-row key check would double the cost of snapshotting a large list at the claim.
  subscriber_id   uuid not null,
  email           text not null,
  status          text not null default 'queued'
                  check (status in ('queued', 'sending', 'sent', 'failed', 'skipped', 'unknown')),
  claimed_by      uuid,
  -- Set by begin_send just before the request to SES: a `sending` row without it was
  -- claimed but never attempted, and goes back to the queue if its invocation dies.
  attempted_at    timestamptz,
  ses_message_id  text,
  error_code      text,
  error_message   text,
  attempts        integer not null default 0,
  updated_at      timestamptz not null default now(),
  primary key (mailout_id, subscriber_id)
);
comment on table public.deliveries is
  'The per-recipient ledger. claimed_by is the lease token of the invocation that took the row.';
comment on column public.deliveries.claimed_by is
  'Lease token of the invocation that moved the row to sending; only it may record the result.';
-- claim_batch walks the queued rows of one mailout in key order.
create index deliveries_queued_idx on public.deliveries (mailout_id, subscriber_id) where status = 'queued';
create index deliveries_sending_idx on public.deliveries (mailout_id) where status = 'sending';
-- SES feedback finds its delivery by message id.
create unique index deliveries_ses_message_id_key on public.deliveries (ses_message_id) where ses_message_id is not null;

alter table public.deliveries enable row level security;
revoke all on table public.deliveries from public, anon, authenticated;
grant select, insert, update, delete on table public.deliveries to service_role;

-- ---------------------------------------------------------------------------------------
-- test_sends: test mode sends to TEST_EMAILS only and may repeat; one row per recipient per run.
-- ---------------------------------------------------------------------------------------
create table public.test_sends (
  id              bigint generated always as identity primary key,
  mailout_id      text not null,
  run_id          uuid not null,
  email           text not null,
  status          text not null check (status in ('sent', 'failed')),
  ses_message_id  text,
  error_code      text,
  error_message   text,
  created_at      timestamptz not null default now()
);
comment on table public.test_sends is 'Test-mode sends; never part of the live claim.';
create index test_sends_mailout_idx on public.test_sends (mailout_id, created_at);

alter table public.test_sends enable row level security;
revoke all on table public.test_sends from public, anon, authenticated;
grant select, insert, update, delete on table public.test_sends to service_role;

-- ---------------------------------------------------------------------------------------
-- ses_events: SES feedback received through SNS. The SNS MessageId is the key, so a
-- redelivered notification changes nothing. Per-mailout bounce and complaint counts are a
-- join on ses_message_id, so an event that arrives before its delivery is recorded counts.
-- ---------------------------------------------------------------------------------------
create table public.ses_events (
  sns_message_id  text primary key,
  event_type      text not null,
  ses_message_id  text,
  email           text,
  recipients      text[] not null default '{}',
  bounce_type     text,
  bounce_subtype  text,
  payload         jsonb not null,
  received_at     timestamptz not null default now()
);
comment on table public.ses_events is 'SES feedback events, idempotent on the SNS MessageId.';
create index ses_events_ses_message_idx on public.ses_events (ses_message_id);

alter table public.ses_events enable row level security;
revoke all on table public.ses_events from public, anon, authenticated;
grant select, insert, update, delete on table public.ses_events to service_role;
