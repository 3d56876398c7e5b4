-- The feedback loop: SES bounces, complaints and deliveries (through SNS) applied to the
-- subscriber list, per-mailout feedback counts, and the throttle for the Notion counts.
--
-- One SQL function per atomic state change, so that the guarantee is the same whichever
-- database adapter calls it:
--   apply_ses_event            store one SNS-delivered SES event (idempotent on the SNS
--                              MessageId) and apply its subscriber changes, in one transaction
--   mailout_feedback_stats     sends, deliveries, bounces and complaints of one mailout
--   claim_notion_refresh       may this caller refresh the mailout's Notion counts now?
--   claim_pending_notion_refreshes
--                              the mailouts whose refresh was held back by the throttle and
--                              is now due (for a cron), claimed in the same way
--
-- Subscriber transitions made here:
--   active -> bounced       permanent bounce, or transient with status 5.4.4 ("hard")
--   active -> bounced       the SOFT_BOUNCE_LIMIT-th soft bounce (other transient bounces)
--   active -> unsubscribed  complaint
-- Only subscribers whose address is one of the event's listed recipients are touched, and only
-- while `active`: an unsubscribed address stays unsubscribed, a bounced one stays bounced.
-- A delivery to an address resets its soft-bounce count (the limit counts consecutive soft
-- bounces; a full mailbox once a year is not a dead address).


-- ---------------------------------------------------------------------------------------
-- ses_events gets two derived columns, written by apply_ses_event:
--   bounce_class  'hard' | 'soft' for bounces (per the rule above; a transient bounce whose
--                 listed recipients include a 5.4.4 counts as hard), null otherwise
--   feedback_id   SES's bounce/complaint feedbackId. When an identity's feedback notifications
--                 and a configuration set's event publishing are both on, SES publishes the
--                 same bounce twice with different SNS MessageIds; the feedbackId lets the
--                 second one be stored without counting the soft bounce twice.
-- ---------------------------------------------------------------------------------------
alter table public.ses_events
  add column bounce_class text check (bounce_class in ('hard', 'soft')),
  add column feedback_id text;
create index ses_events_feedback_idx on public.ses_events (event_type, feedback_id) where feedback_id is not null;
comment on column public.ses_events.bounce_class is 'hard (permanent, or transient 5.4.4) or soft; null for other events.';
comment on column public.ses_events.feedback_id is 'SES feedbackId of a bounce or complaint; the same bounce published twice applies once.';


-- ---------------------------------------------------------------------------------------
-- notion_refresh: the throttle of the Notion counts write-back, per mailout, kept in the
-- database so that it holds across serverless instances.
--   refreshed_at  when a caller last claimed the refresh
--   pending       a change arrived inside the interval and was not written yet
-- ---------------------------------------------------------------------------------------
create table public.notion_refresh (
  mailout_id    text primary key references public.mailouts (id) on delete cascade,
  refreshed_at  timestamptz not null,
  pending       boolean not null default false
);
comment on table public.notion_refresh is
  'Throttle of the Notion counts refresh per mailout (at most one refresh per interval, across instances).';
create index notion_refresh_pending_idx on public.notion_refresh (refreshed_at) where pending;

alter table public.notion_refresh enable row level security;
revoke all on table public.notion_refresh from public, anon, authenticated;
grant select, insert, update, delete on table public.notion_refresh to service_role;


-- ---------------------------------------------------------------------------------------
-- apply_ses_event: one SES event, delivered by SNS, applied exactly once.
--   p_sns_message_id   the SNS MessageId (the idempotency key)
--   p_event_type       Bounce, Complaint, Delivery, Send, ... (either SES format, normalised)
--   p_ses_message_id   mail.messageId (joins deliveries.ses_message_id)
--   p_recipients       the listed recipients of the event (bounced/complained/delivered...)
--   p_hard_bounced     addresses to move to `bounced` now
--   p_soft_bounced     addresses whose soft-bounce count goes up (bounced at p_soft_bounce_limit)
--   p_complained       addresses to move to `unsubscribed`
--   p_delivered        addresses whose soft-bounce count is reset
--   p_mailout_tag      the mailout id from the message's SES tags, if any (used when the
--                      delivery row does not carry the SES message id yet)
-- Addresses are matched case-insensitively. A redelivered SNS message (same MessageId)
-- changes nothing and answers applied = false. The mailout id is found through the delivery
-- with this SES message id, else through the tag when such a mailout exists.
-- ---------------------------------------------------------------------------------------
create or replace function public.apply_ses_event(
  p_sns_message_id    text,
  p_event_type        text,
  p_ses_message_id    text,
  p_recipients        text[],
  p_bounce_type       text,
  p_bounce_subtype    text,
  p_bounce_class      text,
  p_feedback_id       text,
  p_hard_bounced      text[],
  p_soft_bounced      text[],
  p_complained        text[],
  p_delivered         text[],
  p_soft_bounce_limit integer,
  p_payload           jsonb,
  p_mailout_tag       text default null
)
returns table (
  applied               boolean,
  duplicate_feedback    boolean,
  mailout_id            text,
  hard_bounced          integer,
  soft_bounced          integer,
  bounced_by_soft_limit integer,
  unsubscribed          integer,
  soft_reset            integer
)
language plpgsql
volatile
set search_path = public, pg_temp
as $$
#variable_conflict use_column
declare
  v_mailout     text;
  v_hard        integer := 0;
  v_soft        integer := 0;
  v_soft_limit  integer := 0;
  v_unsub       integer := 0;
  v_reset       integer := 0;
  v_dup_feedback boolean := false;
begin
  if p_sns_message_id is null or length(btrim(p_sns_message_id)) = 0 then
    raise exception 'apply_ses_event: the SNS message id is required' using errcode = '22023';
  end if;
  if p_event_type is null or length(btrim(p_event_type)) = 0 then
    raise exception 'apply_ses_event: the event type is required' using errcode = '22023';
  end if;
  if p_soft_bounce_limit is null or p_soft_bounce_limit < 1 then
    raise exception 'apply_ses_event: the soft bounce limit must be at least 1' using errcode = '22023';
  end if;
  if p_bounce_class is not null and p_bounce_class not in ('hard', 'soft') then
    raise exception 'apply_ses_event: bounce class must be hard or soft' using errcode = '22023';
  end if;

  -- The mailout: through the ledger (SES message id), else the tag, when that mailout exists.
  if p_ses_message_id is not null then
    select d.mailout_id into v_mailout from public.deliveries d where d.ses_message_id = p_ses_message_id;
  end if;
  if v_mailout is null and p_mailout_tag is not null then
    select m.id into v_mailout from public.mailouts m where m.id = p_mailout_tag;
  end if;

  -- Idempotency: a concurrent insert of the same MessageId waits here for the first one.
  insert into public.ses_events (sns_message_id, event_type, ses_message_id, email, recipients,
                                 bounce_type, bounce_subtype, bounce_class, feedback_id, payload)
  values (p_sns_message_id, p_event_type, p_ses_message_id, p_recipients[1], coalesce(p_recipients, '{}'),
          p_bounce_type, p_bounce_subtype, p_bounce_class, p_feedback_id, coalesce(p_payload, '{}'::jsonb))
  on conflict (sns_message_id) do nothing;
  if not found then
    return query select false, false, v_mailout, 0, 0, 0, 0, 0;
    return;
  end if;

  -- The same SES feedback published twice (identity notifications and a configuration set):
  -- stored, but applied once. The lock serialises concurrent copies of one feedback id.
  if p_feedback_id is not null then
    perform pg_advisory_xact_lock(hashtext('ses_feedback:' || p_event_type || ':' || p_feedback_id));
    select exists (select 1 from public.ses_events e
                    where e.event_type = p_event_type and e.feedback_id = p_feedback_id
                      and e.sns_message_id <> p_sns_message_id)
      into v_dup_feedback;
    if v_dup_feedback then
      return query select true, true, v_mailout, 0, 0, 0, 0, 0;
      return;
    end if;
  end if;

  if coalesce(cardinality(p_hard_bounced), 0) > 0 then
    update public.subscribers s
       set status = 'bounced',
           bounce_type = p_bounce_type,
           bounce_subtype = p_bounce_subtype,
           status_updated_at = now()
     where lower(s.email) in (select lower(x) from unnest(p_hard_bounced) x)
       and s.status = 'active';
    get diagnostics v_hard = row_count;
  end if;

  if coalesce(cardinality(p_soft_bounced), 0) > 0 then
    with bumped as (
      update public.subscribers s
         set soft_bounce_count = s.soft_bounce_count + 1,
             status = case when s.soft_bounce_count + 1 >= p_soft_bounce_limit then 'bounced' else s.status end,
             bounce_type = case when s.soft_bounce_count + 1 >= p_soft_bounce_limit then p_bounce_type else s.bounce_type end,
             bounce_subtype = case when s.soft_bounce_count + 1 >= p_soft_bounce_limit then p_bounce_subtype else s.bounce_subtype end,
             status_updated_at = case when s.soft_bounce_count + 1 >= p_soft_bounce_limit then now() else s.status_updated_at end
       where lower(s.email) in (select lower(x) from unnest(p_soft_bounced) x)
         and s.status = 'active'
      returning s.status
    )
    select count(*)::integer, count(*) filter (where status = 'bounced')::integer
      into v_soft, v_soft_limit
      from bumped;
  end if;

  if coalesce(cardinality(p_complained), 0) > 0 then
    update public.subscribers s
       set status = 'unsubscribed',
           status_updated_at = now()
     where lower(s.email) in (select lower(x) from unnest(p_complained) x)
       and s.status = 'active';
    get diagnostics v_unsub = row_count;
  end if;

  if coalesce(cardinality(p_delivered), 0) > 0 then
    update public.subscribers s
       set soft_bounce_count = 0
     where lower(s.email) in (select lower(x) from unnest(p_delivered) x)
       and s.status = 'active'
       and s.soft_bounce_count > 0;
    get diagnostics v_reset = row_count;
  end if;

  return query select true, false, v_mailout, v_hard, v_soft, v_soft_limit, v_unsub, v_reset;
end;
$$;
comment on function public.apply_ses_event(text, text, text, text[], text, text, text, text, text[], text[], text[], text[], integer, jsonb, text) is
  'Store one SES event (idempotent on the SNS MessageId) and apply its subscriber changes in the same transaction.';


-- ---------------------------------------------------------------------------------------
-- mailout_feedback_stats: the feedback of one mailout, from the ledger joined to ses_events
-- on the SES message id (so an event stored before its delivery row got the id counts once
-- the id is recorded). Each figure counts recipients, not events: a feedback published twice
-- counts once.
--   sends         deliveries recorded as sent
--   delivered     recipients with a Delivery event
--   hard_bounces  recipients with a hard bounce
--   soft_bounces  recipients with a soft bounce (and no hard one)
--   complaints    recipients with a complaint
-- The send engine's auto-pause: hard_bounces / sends >= 5% or complaints / sends >= 0.1%
-- once sends >= 100.
-- ---------------------------------------------------------------------------------------
create or replace function public.mailout_feedback_stats(p_mailout_id text)
returns table (sends integer, delivered integer, hard_bounces integer, soft_bounces integer, complaints integer)
language sql
stable
set search_path = public, pg_temp
as $$
  with fb as (
    select d.subscriber_id,
           bool_or(e.event_type = 'Delivery') as delivered,
           bool_or(e.event_type = 'Bounce' and e.bounce_class = 'hard') as hard,
           bool_or(e.event_type = 'Bounce' and e.bounce_class = 'soft') as soft,
           bool_or(e.event_type = 'Complaint') as complaint
      from public.deliveries d
      join public.ses_events e on e.ses_message_id = d.ses_message_id
     where d.mailout_id = p_mailout_id
       and d.ses_message_id is not null
     group by d.subscriber_id
  )
  select (select count(*) from public.deliveries d where d.mailout_id = p_mailout_id and d.status = 'sent')::integer,
         (select count(*) from fb where fb.delivered)::integer,
         (select count(*) from fb where fb.hard)::integer,
         (select count(*) from fb where fb.soft and not fb.hard)::integer,
         (select count(*) from fb where fb.complaint)::integer;
$$;
comment on function public.mailout_feedback_stats(text) is
  'Sends, deliveries, hard and soft bounces and complaints of a mailout (recipients, joined on the SES message id).';


-- ---------------------------------------------------------------------------------------
-- claim_notion_refresh: should this caller write the mailout's counts to Notion now?
-- True at most once per p_min_interval_seconds per mailout, whatever the number of callers
-- and instances (the row lock of the upsert serialises them). A caller turned away marks the
-- refresh pending, so a later claim (or claim_pending_notion_refreshes) writes the last counts.
-- False, and nothing stored, for a mailout that does not exist.
-- ---------------------------------------------------------------------------------------
create or replace function public.claim_notion_refresh(p_mailout_id text, p_min_interval_seconds integer default 10)
returns table (should_refresh boolean)
language plpgsql
volatile
set search_path = public, pg_temp
as $$
declare
  v_now  timestamptz := clock_timestamp();
  v_last timestamptz;
begin
  if p_min_interval_seconds is null or p_min_interval_seconds < 0 then
    raise exception 'claim_notion_refresh: the interval must be zero or more seconds' using errcode = '22023';
  end if;
  if not exists (select 1 from public.mailouts m where m.id = p_mailout_id) then
    return query select false;
    return;
  end if;

  insert into public.notion_refresh as r (mailout_id, refreshed_at, pending)
  values (p_mailout_id, v_now, false)
  on conflict (mailout_id) do nothing;
  if found then
    return query select true;
    return;
  end if;

  select r.refreshed_at into v_last from public.notion_refresh r where r.mailout_id = p_mailout_id for update;
  if v_last <= v_now - make_interval(secs => p_min_interval_seconds) then
    update public.notion_refresh r set refreshed_at = v_now, pending = false where r.mailout_id = p_mailout_id;
    return query select true;
  else
    update public.notion_refresh r set pending = true where r.mailout_id = p_mailout_id and not r.pending;
    return query select false;
  end if;
end;
$$;
comment on function public.claim_notion_refresh(text, integer) is
  'True at most once per interval per mailout: the caller then refreshes the Notion counts; otherwise marks it pending.';


-- ---------------------------------------------------------------------------------------
-- claim_pending_notion_refreshes: the mailouts with a held-back refresh whose interval has
-- passed, claimed (refreshed_at = now, pending cleared) so that one caller writes each.
-- ---------------------------------------------------------------------------------------
create or replace function public.claim_pending_notion_refreshes(p_min_interval_seconds integer default 10, p_limit integer default 20)
returns table (mailout_id text)
language plpgsql
volatile
set search_path = public, pg_temp
as $$
#variable_conflict use_column
begin
  if p_min_interval_seconds is null or p_min_interval_seconds < 0 then
    raise exception 'claim_pending_notion_refreshes: the interval must be zero or more seconds' using errcode = '22023';
  end if;
  return query
    update public.notion_refresh r
       set refreshed_at = clock_timestamp(), pending = false
     where r.mailout_id in (
             select p.mailout_id from public.notion_refresh p
              where p.pending
                and p.refreshed_at <= clock_timestamp() - make_interval(secs => p_min_interval_seconds)
              order by p.refreshed_at
              limit greatest(coalesce(p_limit, 20), 1)
              for update skip locked)
    returning r.mailout_id;
end;
$$;
comment on function public.claim_pending_notion_refreshes(integer, integer) is
  'Claim the held-back Notion refreshes that are now due (for a cron); each mailout goes to one caller.';


-- ---------------------------------------------------------------------------------------
-- Only the executor (service_role) may call these.
-- ---------------------------------------------------------------------------------------
revoke execute on function public.apply_ses_event(text, text, text, text[], text, text, text, text, text[], text[], text[], text[], integer, jsonb, text) from public, anon, authenticated;
revoke execute on function public.mailout_feedback_stats(text) from public, anon, authenticated;
revoke execute on function public.claim_notion_refresh(text, integer) from public, anon, authenticated;
revoke execute on function public.claim_pending_notion_refreshes(integer, integer) from public, anon, authenticated;

grant execute on function public.apply_ses_event(text, text, text, text[], text, text, text, text, text[], text[], text[], text[], integer, jsonb, text) to service_role;
grant execute on function public.mailout_feedback_stats(text) to service_role;
grant execute on function public.claim_notion_refresh(text, integer) to service_role;
grant execute on function public.claim_pending_notion_refreshes(integer, integer) to service_role;
