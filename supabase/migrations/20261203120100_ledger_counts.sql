-- Counts are the ledger's, in the same transaction, at a cost that does not grow with the list
-- (issue 26 item 2, issue 21 item 5), and SES's own events settle rows left `unknown`
-- (issue 26 item 3).
--
-- - mailouts keeps one counter per delivery status and per kind of feedback. A statement
--   trigger on deliveries (transition tables) adds each statement's change to them, whatever
--   the path: the claim's snapshot, claim_batch, begin_send, record_results, a takeover,
--   apply_ses_event, a resend. No other writer can change them: a trigger on mailouts keeps
--   their values unless the counting trigger writes them. mailout_counts,
--   mailout_feedback_stats and mailout_pending_count read one row.
-- - deliveries carries its feedback as flags (delivered, hard/soft bounce, complaint), set by
--   apply_ses_event, so a recipient counts once however many events SES sends.
-- - Each message carries the tags mailout_id and subscriber_id; SES copies them into every
--   event. A Send, Delivery, Bounce or Complaint event for an `unknown` row settles it as
--   `sent` with SES's message id. Events that arrive first are found when the row becomes
--   `unknown` or learns its message id (a row trigger), so the order of events and answers
--   does not matter; a settled row is settled once.
-- - Every function that changes deliveries locks its mailout row first, as claim_mailout,
--   claim_batch, begin_sends and finish_mailout do, so that the counters add no deadlock.

alter table public.mailouts
  add column queued        integer not null default 0,
  add column sending       integer not null default 0,
  add column delivered     integer not null default 0,
  add column hard_bounces  integer not null default 0,
  add column soft_bounces  integer not null default 0,
  add column complaints    integer not null default 0;
comment on column public.mailouts.sent is 'Deliveries now sent: kept equal to the ledger by the deliveries counting trigger, like every count column.';
comment on column public.mailouts.soft_bounces is 'Recipients with a soft bounce and no hard one.';

alter table public.deliveries
  add column fb_delivered    boolean not null default false,
  add column fb_hard_bounce  boolean not null default false,
  add column fb_soft_bounce  boolean not null default false,
  add column fb_complaint    boolean not null default false,
  add column resent_at       timestamptz;
comment on column public.deliveries.fb_delivered is 'SES reported a Delivery for this message (apply_ses_event).';
comment on column public.deliveries.resent_at is
  'Set when npm run resend-unknown queued this unknown row again: it is never resent a second time.';

alter table public.ses_events
  add column mailout_id     text,
  add column subscriber_id  uuid;
comment on column public.ses_events.subscriber_id is 'The delivery the event is about: the message''s subscriber_id tag, or its ledger row.';
create index ses_events_delivery_idx on public.ses_events (mailout_id, subscriber_id) where subscriber_id is not null;
create index ses_events_mailout_received_idx on public.ses_events (mailout_id, received_at) where mailout_id is not null;

-- What is already stored, linked and counted once (the triggers below do it from now on).
update public.ses_events e
   set mailout_id = d.mailout_id, subscriber_id = d.subscriber_id
  from public.deliveries d
 where d.ses_message_id = e.ses_message_id;
update public.deliveries d
   set fb_delivered = f.delivered, fb_hard_bounce = f.hard, fb_soft_bounce = f.soft, fb_complaint = f.complaint
  from (select e.ses_message_id,
               bool_or(e.event_type = 'Delivery') as delivered,
               bool_or(e.event_type = 'Bounce' and e.bounce_class = 'hard') as hard,
               bool_or(e.event_type = 'Bounce' and e.bounce_class = 'soft') as soft,
               bool_or(e.event_type = 'Complaint') as complaint
          from public.ses_events e where e.ses_message_id is not null group by e.ses_message_id) f
 where d.ses_message_id = f.ses_message_id;
update public.mailouts m
   set recipients = c.recipients, queued = c.queued, sending = c.sending, sent = c.sent, failed = c.failed,
       skipped = c.skipped, unknown = c.unknown, delivered = c.delivered, hard_bounces = c.hard_bounces,
       soft_bounces = c.soft_bounces, complaints = c.complaints
  from (select d.mailout_id, count(*)::integer as recipients,
               count(*) filter (where d.status = 'queued')::integer as queued,
               count(*) filter (where d.status = 'sending')::integer as sending,
               count(*) filter (where d.status = 'sent')::integer as sent,
               count(*) filter (where d.status = 'failed')::integer as failed,
               count(*) filter (where d.status = 'skipped')::integer as skipped,
               count(*) filter (where d.status = 'unknown')::integer as unknown,
               count(*) filter (where d.fb_delivered)::integer as delivered,
               count(*) filter (where d.fb_hard_bounce)::integer as hard_bounces,
               count(*) filter (where d.fb_soft_bounce and not d.fb_hard_bounce)::integer as soft_bounces,
               count(*) filter (where d.fb_complaint)::integer as complaints
          from public.deliveries d group by d.mailout_id) c
 where m.id = c.mailout_id;


-- ---------------------------------------------------------------------------------------
-- The counters: each statement on deliveries adds its change, in its own transaction.
-- ---------------------------------------------------------------------------------------
create function private.deliveries_keep_counts()
returns trigger
language plpgsql
set search_path = public, pg_temp
as $$
declare
  -- Each row counts +1 as it is now and -1 as it was.
  v_rows text := case tg_op
    when 'INSERT' then 'select 1 as n, * from new_rows'
    when 'DELETE' then 'select -1 as n, * from old_rows'
    else 'select 1 as n, * from new_rows union all select -1 as n, * from old_rows'
  end;
begin
  perform set_config('mailout.counts_from_ledger', 'on', true);
  execute format($sql$
    update public.mailouts m
       set recipients = m.recipients + c.recipients, queued = m.queued + c.queued, sending = m.sending + c.sending,
           sent = m.sent + c.sent, failed = m.failed + c.failed, skipped = m.skipped + c.skipped,
           unknown = m.unknown + c.unknown, delivered = m.delivered + c.delivered,
           hard_bounces = m.hard_bounces + c.hard_bounces, soft_bounces = m.soft_bounces + c.soft_bounces,
           complaints = m.complaints + c.complaints
      from (select r.mailout_id,
                   sum(r.n)::integer as recipients,
                   coalesce(sum(r.n) filter (where r.status = 'queued'), 0)::integer as queued,
                   coalesce(sum(r.n) filter (where r.status = 'sending'), 0)::integer as sending,
                   coalesce(sum(r.n) filter (where r.status = 'sent'), 0)::integer as sent,
                   coalesce(sum(r.n) filter (where r.status = 'failed'), 0)::integer as failed,
                   coalesce(sum(r.n) filter (where r.status = 'skipped'), 0)::integer as skipped,
                   coalesce(sum(r.n) filter (where r.status = 'unknown'), 0)::integer as unknown,
                   coalesce(sum(r.n) filter (where r.fb_delivered), 0)::integer as delivered,
                   coalesce(sum(r.n) filter (where r.fb_hard_bounce), 0)::integer as hard_bounces,
                   coalesce(sum(r.n) filter (where r.fb_soft_bounce and not r.fb_hard_bounce), 0)::integer as soft_bounces,
                   coalesce(sum(r.n) filter (where r.fb_complaint), 0)::integer as complaints
              from (%s) r
             group by r.mailout_id) c
     where m.id = c.mailout_id
       and (c.recipients, c.queued, c.sending, c.sent, c.failed, c.skipped, c.unknown,
            c.delivered, c.hard_bounces, c.soft_bounces, c.complaints) <> (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
  $sql$, v_rows);
  perform set_config('mailout.counts_from_ledger', '', true);
  return null;
end;
$$;
comment on function private.deliveries_keep_counts() is
  'Statement trigger on deliveries: add the statement''s change to its mailouts'' counters (same transaction).';

-- (A trigger with transition tables takes one event; the three share the function.)
create trigger deliveries_count_inserts after insert on public.deliveries
  referencing new table as new_rows for each statement execute function private.deliveries_keep_counts();
create trigger deliveries_count_updates after update on public.deliveries
  referencing old table as old_rows new table as new_rows for each statement execute function private.deliveries_keep_counts();
create trigger deliveries_count_deletes after delete on public.deliveries
  referencing old table as old_rows for each statement execute function private.deliveries_keep_counts();

create function private.mailouts_counts_from_ledger()
returns trigger
language plpgsql
set search_path = public, pg_temp
as $$
begin
  if current_setting('mailout.counts_from_ledger', true) = 'on' then
    return new;
  end if;
  -- Any other writer (claim_mailout sets recipients and adds the rows it turned unknown) keeps
  -- the ledger's values: the counting trigger has already counted those rows.
  if tg_op = 'INSERT' then
    new.recipients := 0; new.queued := 0; new.sending := 0; new.sent := 0; new.failed := 0;
    new.skipped := 0; new.unknown := 0; new.delivered := 0; new.hard_bounces := 0;
    new.soft_bounces := 0; new.complaints := 0;
  else
    new.recipients := old.recipients; new.queued := old.queued; new.sending := old.sending;
    new.sent := old.sent; new.failed := old.failed; new.skipped := old.skipped; new.unknown := old.unknown;
    new.delivered := old.delivered; new.hard_bounces := old.hard_bounces;
    new.soft_bounces := old.soft_bounces; new.complaints := old.complaints;
  end if;
  return new;
end;
$$;
comment on function private.mailouts_counts_from_ledger() is
  'Trigger on mailouts: the count columns change only through deliveries_keep_counts.';
create trigger mailouts_counts_from_ledger before insert or update on public.mailouts
  for each row execute function private.mailouts_counts_from_ledger();


-- ---------------------------------------------------------------------------------------
-- SES events that came before the row could take them: found when the row becomes unknown
-- or learns its SES message id.
-- ---------------------------------------------------------------------------------------
create function private.deliveries_from_ses_events()
returns trigger
language plpgsql
set search_path = public, pg_temp
as $$
declare
  e record;
begin
  if new.status = 'unknown' then
    select ev.ses_message_id, ev.event_type into e
      from public.ses_events ev
     where ev.mailout_id = new.mailout_id and ev.subscriber_id = new.subscriber_id
       and ev.event_type in ('Send', 'Delivery', 'Bounce', 'Complaint') and ev.ses_message_id is not null
     order by ev.received_at
     limit 1;
    if found then
      new.status := 'sent';
      new.ses_message_id := coalesce(new.ses_message_id, e.ses_message_id);
      new.error_code := 'answer_lost';
      new.error_message := format('SES''s answer was lost; SES''s %s event settled it as sent', e.event_type);
    end if;
  end if;
  if new.ses_message_id is not null then
    select new.fb_delivered or coalesce(bool_or(ev.event_type = 'Delivery'), false),
           new.fb_hard_bounce or coalesce(bool_or(ev.event_type = 'Bounce' and ev.bounce_class = 'hard'), false),
           new.fb_soft_bounce or coalesce(bool_or(ev.event_type = 'Bounce' and ev.bounce_class = 'soft'), false),
           new.fb_complaint or coalesce(bool_or(ev.event_type = 'Complaint'), false)
      into new.fb_delivered, new.fb_hard_bounce, new.fb_soft_bounce, new.fb_complaint
      from public.ses_events ev where ev.ses_message_id = new.ses_message_id;
  end if;
  return new;
end;
$$;
comment on function private.deliveries_from_ses_events() is
  'Trigger on deliveries: a row turning unknown that SES already reported is sent; a row learning its message id takes the feedback already stored.';
create trigger deliveries_from_ses_events before update on public.deliveries
  for each row
  when ((new.status = 'unknown' and old.status <> 'unknown') or new.ses_message_id is distinct from old.ses_message_id)
  execute function private.deliveries_from_ses_events();


-- ---------------------------------------------------------------------------------------
-- Readers: one row each, whatever the list's size.
-- ---------------------------------------------------------------------------------------
create or replace function public.mailout_counts(p_mailout_id text)
returns table (recipients integer, queued integer, sending integer, sent integer, failed integer, skipped integer, unknown integer)
language sql
stable
set search_path = public, pg_temp
as $$
  select m.recipients, m.queued, m.sending, m.sent, m.failed, m.skipped, m.unknown
    from public.mailouts m where m.id = p_mailout_id
  union all
  select 0, 0, 0, 0, 0, 0, 0
   where not exists (select 1 from public.mailouts m where m.id = p_mailout_id);
$$;
comment on function public.mailout_counts(text) is
  'Per-status delivery counts of a mailout (its counters, equal to the ledger in every transaction).';

create or replace function public.mailout_feedback_stats(p_mailout_id text)
returns table (sends integer, delivered integer, hard_bounces integer, soft_bounces integer, complaints integer)
language sql
stable
set search_path = public, pg_temp
as $$
  select m.sent, m.delivered, m.hard_bounces, m.soft_bounces, m.complaints
    from public.mailouts m where m.id = p_mailout_id
  union all
  select 0, 0, 0, 0, 0
   where not exists (select 1 from public.mailouts m where m.id = p_mailout_id);
$$;
comment on function public.mailout_feedback_stats(text) is
  'Sends, deliveries, hard and soft bounces and complaints of a mailout, recipients counted once (its counters).';

create or replace function public.mailout_pending_count(p_mailout_id text)
returns table (claimed boolean, status text, pending integer)
language sql
stable
set search_path = public, pg_temp
as $$
  select true, m.status, m.queued
    from public.mailouts m where m.id = p_mailout_id
  union all
  select false, null::text, (select count(*)::integer from public.subscribers s where s.status = 'active')
   where not exists (select 1 from public.mailouts m where m.id = p_mailout_id);
$$;
comment on function public.mailout_pending_count(text) is
  'Messages a send of this mailout would need now: queued deliveries, or active subscribers when unclaimed.';

create or replace function public.finish_mailout(p_mailout_id text, p_lease_token uuid, p_outcome text, p_reason text default null)
returns table (mailout_id text, status text, recipients integer, sent integer, failed integer, skipped integer,
               unknown integer, queued integer, sent_at timestamptz, last_error text)
language plpgsql
set search_path = public, pg_temp
as $$
#variable_conflict use_column
declare
  m        public.mailouts%rowtype;
  v_status text;
begin
  if p_outcome is null or p_outcome not in ('complete', 'paused', 'failed', 'released') then
    raise exception 'finish_mailout: outcome must be complete, paused, failed or released' using errcode = '22023';
  end if;

  select * into m from public.mailouts
   where id = p_mailout_id and lease_token = p_lease_token and status = 'sending'
   for update;
  if not found then
    raise exception 'finish_mailout: the lease on mailout % is gone', p_mailout_id using errcode = 'ML001';
  end if;

  if p_outcome = 'complete' then
    if m.queued > 0 or m.sending > 0 then
      raise exception 'finish_mailout: mailout % still has % queued and % sending deliveries',
        p_mailout_id, m.queued, m.sending using errcode = 'ML002';
    end if;
    v_status := case when m.sent = 0 and m.failed > 0 then 'failed' else 'sent' end;
  elsif p_outcome = 'released' then
    v_status := 'sending';
  else
    v_status := p_outcome;
  end if;

  return query
    update public.mailouts u
       set status = v_status,
           lease_until = case when p_outcome = 'released' then now() else null end,
           lease_token = case when p_outcome = 'released' then u.lease_token else null end,
           sent_at = case when v_status = 'sent' then now() else u.sent_at end,
           last_error = case
                          when p_outcome = 'complete' and v_status = 'failed'
                            then coalesce(p_reason, 'no recipient could be sent')
                          else p_reason
                        end,
           updated_at = now()
     where u.id = p_mailout_id
    returning u.id, u.status, u.recipients, u.sent, u.failed, u.skipped, u.unknown, u.queued, u.sent_at, u.last_error;
end;
$$;
comment on function public.finish_mailout(text, uuid, text, text) is
  'End the lease holder''s turn: complete (sent/failed), paused, failed, or released for a fresh invocation.';


-- ---------------------------------------------------------------------------------------
-- apply_ses_event: also finds the delivery (ledger message id, else the subscriber_id tag),
-- sets its feedback flags, and settles it as sent when it was unknown (or queued again by
-- resend-unknown and not yet resent).
-- ---------------------------------------------------------------------------------------
drop function public.apply_ses_event(text, text, text, text[], text, text, text, text, text[], text[], text[], text[], integer, jsonb, text);

create function public.apply_ses_event(
  p_sns_message_id text, p_event_type text, p_ses_message_id text, p_recipients text[],
  p_bounce_type text, p_bounce_subtype text, p_bounce_class text, p_feedback_id text,
  p_hard_bounced text[], p_soft_bounced text[], p_complained text[], p_delivered text[],
  p_soft_bounce_limit integer, p_payload jsonb, p_mailout_tag text default null, p_subscriber_tag uuid default null)
returns table (applied boolean, duplicate_feedback boolean, mailout_id text, hard_bounced integer, soft_bounced integer,
               bounced_by_soft_limit integer, unsubscribed integer, soft_reset integer, settled boolean)
language plpgsql
set search_path = public, pg_temp
as $$
#variable_conflict use_column
declare
  v_mailout     text;
  v_subscriber  uuid;
  v_hard        integer := 0;
  v_soft        integer := 0;
  v_soft_limit  integer := 0;
  v_unsub       integer := 0;
  v_reset       integer := 0;
  v_settled     integer := 0;
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

  -- The delivery: through the ledger (SES message id), else the tags, when that mailout exists.
  if p_ses_message_id is not null then
    select d.mailout_id, d.subscriber_id into v_mailout, v_subscriber
      from public.deliveries d where d.ses_message_id = p_ses_message_id;
  end if;
  if v_mailout is null and p_mailout_tag is not null then
    select m.id into v_mailout from public.mailouts m where m.id = p_mailout_tag;
    v_subscriber := case when v_mailout is not null then p_subscriber_tag end;
  end if;

  -- Idempotency: a concurrent insert of the same MessageId waits here for the first one.
  insert into public.ses_events (sns_message_id, event_type, ses_message_id, email, recipients,
                                 bounce_type, bounce_subtype, bounce_class, feedback_id, payload,
                                 mailout_id, subscriber_id)
  values (p_sns_message_id, p_event_type, p_ses_message_id, p_recipients[1], coalesce(p_recipients, '{}'),
          p_bounce_type, p_bounce_subtype, p_bounce_class, p_feedback_id, coalesce(p_payload, '{}'::jsonb),
          v_mailout, v_subscriber)
  on conflict (sns_message_id) do nothing;
  if not found then
    return query select false, false, v_mailout, 0, 0, 0, 0, 0, false;
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
      return query select true, true, v_mailout, 0, 0, 0, 0, 0, false;
      return;
    end if;
  end if;

  if v_subscriber is not null and p_event_type in ('Send', 'Delivery', 'Bounce', 'Complaint') then
    perform 1 from public.mailouts m where m.id = v_mailout for update;
    with settle as (
      select d.subscriber_id,
             p_ses_message_id is not null
               and (d.status = 'unknown' or (d.status = 'queued' and d.resent_at is not null)) as now_sent
        from public.deliveries d
       where d.mailout_id = v_mailout and d.subscriber_id = v_subscriber
    ), changed as (
      update public.deliveries d
         set status = case when s.now_sent then 'sent' else d.status end,
             ses_message_id = case when s.now_sent then p_ses_message_id else d.ses_message_id end,
             error_code = case when s.now_sent then 'answer_lost' else d.error_code end,
             error_message = case when s.now_sent
                                  then format('SES''s answer was lost; SES''s %s event settled it as sent', p_event_type)
                                  else d.error_message end,
             updated_at = case when s.now_sent then now() else d.updated_at end,
             fb_delivered = d.fb_delivered or p_event_type = 'Delivery',
             fb_hard_bounce = d.fb_hard_bounce or (p_event_type = 'Bounce' and p_bounce_class = 'hard'),
             fb_soft_bounce = d.fb_soft_bounce or (p_event_type = 'Bounce' and p_bounce_class = 'soft'),
             fb_complaint = d.fb_complaint or p_event_type = 'Complaint'
        from settle s
       where d.mailout_id = v_mailout and d.subscriber_id = s.subscriber_id
      returning s.now_sent
    )
    select count(*) filter (where now_sent) into v_settled from changed;
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

  return query select true, false, v_mailout, v_hard, v_soft, v_soft_limit, v_unsub, v_reset, v_settled > 0;
end;
$$;
comment on function public.apply_ses_event(text, text, text, text[], text, text, text, text, text[], text[], text[], text[], integer, jsonb, text, uuid) is
  'Store one SES event (idempotent on the SNS MessageId), apply its subscriber changes and its delivery''s feedback, and settle an unknown delivery as sent, in one transaction.';
revoke execute on function public.apply_ses_event(text, text, text, text[], text, text, text, text, text[], text[], text[], text[], integer, jsonb, text, uuid) from public, anon, authenticated;
grant execute on function public.apply_ses_event(text, text, text, text[], text, text, text, text, text[], text[], text[], text[], integer, jsonb, text, uuid) to service_role;
