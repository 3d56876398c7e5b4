-- The current definition of every SQL function, after all migrations in supabase/migrations.
-- Generated from a migrated database by `npm run schema`; do not edit: write a migration,
-- then run `npm run schema`. (tests/db/sql-gateway.test.ts fails when this file is stale.)

CREATE OR REPLACE FUNCTION private.add_to_counts(p_changes private.count_change[])
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'public', 'pg_temp'
AS $function$
begin
  if pg_trigger_depth() = 0 then
    raise exception 'add_to_counts: only the deliveries counting triggers add to the counts' using errcode = '42501';
  end if;
  perform set_config('mailout.counts_from_ledger', 'on', true);
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
            from unnest(p_changes) r
           group by r.mailout_id) c
   where m.id = c.mailout_id
     and (c.recipients, c.queued, c.sending, c.sent, c.failed, c.skipped, c.unknown,
          c.delivered, c.hard_bounces, c.soft_bounces, c.complaints) <> (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  perform set_config('mailout.counts_from_ledger', '', true);
end;
$function$;

comment on function private.add_to_counts(private.count_change[]) is
  'Add one statement''s changes of deliveries to their mailouts'' counters (the only writer of the count columns).';

CREATE OR REPLACE FUNCTION private.deliveries_count_rows()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO 'public', 'pg_temp'
AS $function$
declare
  v_n integer := case tg_op when 'DELETE' then -1 else 1 end;
begin
  perform private.add_to_counts(array(
    select (v_n, r.mailout_id, r.status, r.fb_delivered, r.fb_hard_bounce, r.fb_soft_bounce, r.fb_complaint)::private.count_change
      from changed_rows r));
  return null;
end;
$function$;

comment on function private.deliveries_count_rows() is
  'Statement trigger on deliveries (insert, delete): add the rows inserted, take off the rows deleted, in their mailouts'' counters (same transaction).';

CREATE OR REPLACE FUNCTION private.deliveries_count_updates()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO 'public', 'pg_temp'
AS $function$
begin
  perform private.add_to_counts(array(
    select (1, r.mailout_id, r.status, r.fb_delivered, r.fb_hard_bounce, r.fb_soft_bounce, r.fb_complaint)::private.count_change
      from new_rows r
    union all
    select (-1, r.mailout_id, r.status, r.fb_delivered, r.fb_hard_bounce, r.fb_soft_bounce, r.fb_complaint)::private.count_change
      from old_rows r));
  return null;
end;
$function$;

comment on function private.deliveries_count_updates() is
  'Statement trigger on deliveries (update): count each row''s change of status or feedback in its mailout''s counters (same transaction).';

CREATE OR REPLACE FUNCTION private.deliveries_from_ses_events()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO 'public', 'pg_temp'
AS $function$
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
$function$;

comment on function private.deliveries_from_ses_events() is
  'Trigger on deliveries: a row turning unknown that SES already reported is sent; a row learning its message id takes the feedback already stored.';

CREATE OR REPLACE FUNCTION private.mailouts_counts_from_ledger()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO 'public', 'pg_temp'
AS $function$
begin
  if current_setting('mailout.counts_from_ledger', true) = 'on' then
    return new;
  end if;
  -- Any other writer keeps the ledger's values: a row's change is counted when the row
  -- changes, by the counting triggers, and by nothing else.
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
$function$;

comment on function private.mailouts_counts_from_ledger() is
  'Trigger on mailouts: the count columns change only through private.add_to_counts (the deliveries counting triggers).';

CREATE OR REPLACE FUNCTION private.never_reported(p_row deliveries)
 RETURNS boolean
 LANGUAGE sql
 STABLE
 SET search_path TO 'public', 'pg_temp'
AS $function$
  select p_row.status = 'unknown' and p_row.resent_at is null and p_row.ses_message_id is null
     and not exists (select 1 from public.ses_events e
                      where e.mailout_id = p_row.mailout_id and e.subscriber_id = p_row.subscriber_id);
$function$;

comment on function private.never_reported(deliveries) is
  'An unknown delivery SES never reported (no event names it, no message id) and not resent before: resend-unknown may queue it once.';

CREATE OR REPLACE FUNCTION private.snapshot_recipients(p_mailout_id text, p_limit integer DEFAULT 2000)
 RETURNS boolean
 LANGUAGE plpgsql
 SET search_path TO 'public', 'pg_temp'
AS $function$
declare
  m         record;
  v_picked  integer;
  v_last    uuid;
begin
  if p_limit is null or p_limit < 2 then
    raise exception 'snapshot_recipients: a chunk must be at least 2 subscribers' using errcode = '22023';
  end if;
  select mo.snapshot_at, mo.snapshot_from, mo.snapshot_done into m from public.mailouts mo where mo.id = p_mailout_id;
  if not found or m.snapshot_done then
    return true;
  end if;

  -- The chunk starts at the previous chunk's last id (copied already, so on conflict it is
  -- left alone): with at least 2 per chunk, each full chunk moves the start forward.
  with picked as (
    select s.id, s.email
      from public.subscribers s
     where s.status = 'active' and s.id >= m.snapshot_from and s.status_updated_at <= m.snapshot_at
     order by s.id
     limit p_limit
  ), copied as (
    insert into public.deliveries (mailout_id, subscriber_id, email)
    select p_mailout_id, p.id, p.email from picked p
    on conflict (mailout_id, subscriber_id) do nothing
  )
  select count(*)::integer, (select p.id from picked p order by p.id desc limit 1)
    into v_picked, v_last
    from picked;

  update public.mailouts mo
     set snapshot_from = coalesce(v_last, mo.snapshot_from),
         snapshot_done = v_picked < p_limit
   where mo.id = p_mailout_id;
  return v_picked < p_limit;
end;
$function$;

comment on function private.snapshot_recipients(text,integer) is
  'Copy the next chunk of a claim''s recipients into deliveries (keyset on subscriber id); true once all are copied.';

CREATE OR REPLACE FUNCTION private.subscribers_email_canonical()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO 'public', 'pg_temp'
AS $function$
begin
  if not coalesce(public.email_is_canonical(new.email), false) then
    raise exception 'subscribers: "%" is not an address in canonical form (trimmed, ASCII with a punycode domain in lower case); add subscribers with npm run import', left(new.email, 320)
      using errcode = '23514';
  end if;
  return new;
end;
$function$;

comment on function private.subscribers_email_canonical() is
  'Trigger: a new or changed subscriber address must be canonical.';

CREATE OR REPLACE FUNCTION private.subscribers_status_change()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO 'public', 'pg_temp'
AS $function$
begin
  -- A recipient of a claim whose copy is not done yet, unchanged since that claim: copy them
  -- now, before the change hides them from the chunks (the mailout's row first: see above).
  if old.status = 'active' then
    perform 1
       from public.mailouts m
      where not m.snapshot_done and m.snapshot_at >= old.status_updated_at
      order by m.id
        for update;
    insert into public.deliveries (mailout_id, subscriber_id, email)
    select m.id, old.id, old.email
      from public.mailouts m
     where not m.snapshot_done and m.snapshot_at >= old.status_updated_at
    on conflict (mailout_id, subscriber_id) do nothing;
  end if;
  if tg_op = 'DELETE' then
    return old;
  end if;
  new.status_updated_at := clock_timestamp();
  return new;
end;
$function$;

comment on function private.subscribers_status_change() is
  'Trigger: a status change is stamped by the clock; a recipient of an unfinished copy is copied first (its mailout locked first).';

CREATE OR REPLACE FUNCTION private.uncopied_recipients(m mailouts)
 RETURNS integer
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO 'public', 'pg_temp'
AS $function$
  select case when m.snapshot_done then 0 else greatest(coalesce(m.claimed_recipients, 0) - m.recipients, 0) end;
$function$;

comment on function private.uncopied_recipients(mailouts) is
  'Recipients fixed at the claim and not yet copied into deliveries (chunked claim).';

CREATE OR REPLACE FUNCTION public.apply_ses_event(p_sns_message_id text, p_event_type text, p_ses_message_id text, p_recipients text[], p_bounce_type text, p_bounce_subtype text, p_bounce_class text, p_feedback_id text, p_hard_bounced text[], p_soft_bounced text[], p_complained text[], p_delivered text[], p_soft_bounce_limit integer, p_payload jsonb, p_mailout_tag text DEFAULT NULL::text, p_subscriber_tag uuid DEFAULT NULL::uuid)
 RETURNS TABLE(applied boolean, duplicate_feedback boolean, mailout_id text, hard_bounced integer, soft_bounced integer, bounced_by_soft_limit integer, unsubscribed integer, soft_reset integer, settled boolean)
 LANGUAGE plpgsql
 SET search_path TO 'public', 'pg_temp'
AS $function$
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
$function$;

comment on function apply_ses_event(text,text,text,text[],text,text,text,text,text[],text[],text[],text[],integer,jsonb,text,uuid) is
  'Store one SES event (idempotent on the SNS MessageId), apply its subscriber changes and its delivery''s feedback, and settle an unknown delivery as sent, in one transaction.';

CREATE OR REPLACE FUNCTION public.begin_sends(p_mailout_id text, p_lease_token uuid, p_subscriber_ids uuid[], p_lease_seconds integer DEFAULT 120)
 RETURNS TABLE(subscriber_id uuid, decision text)
 LANGUAGE plpgsql
 SET search_path TO 'public', 'pg_temp'
AS $function$
#variable_conflict use_column
declare
  v_skipped uuid[];
  v_marked  uuid[];
begin
  if p_subscriber_ids is null then
    raise exception 'begin_sends: subscriber ids are required' using errcode = '22023';
  end if;
  if p_lease_seconds is null or p_lease_seconds < 1 or p_lease_seconds > 86400 then
    raise exception 'begin_sends: lease seconds must be between 1 and 86400' using errcode = '22023';
  end if;
  -- The lease must still be live, and it is extended from this transaction's start, which is
  -- after the caller sent its request: the caller's clock is never ahead of the lease.
  update public.mailouts
     set lease_until = greatest(lease_until, now() + make_interval(secs => p_lease_seconds))
   where id = p_mailout_id and lease_token = p_lease_token and status = 'sending' and lease_until > now();
  if not found then
    return query select x, 'lost'::text from unnest(p_subscriber_ids) x;
    return;
  end if;

  -- Only rows this lease took and nobody attempted yet; a subscriber who left since is skipped.
  with skipped as (
    update public.deliveries d
       set status = 'skipped', error_code = 'subscriber_' || s.status,
           error_message = 'the subscriber left the list after the mailout was claimed', updated_at = now()
      from public.subscribers s
     where d.mailout_id = p_mailout_id and d.subscriber_id = any (p_subscriber_ids)
       and d.claimed_by = p_lease_token and d.status = 'sending' and d.attempted_at is null
       and s.id = d.subscriber_id and s.status <> 'active'
    returning d.subscriber_id
  )
  select coalesce(array_agg(skipped.subscriber_id), '{}') into v_skipped from skipped;
  with marked as (
    update public.deliveries d
       set attempted_at = now()
      from public.subscribers s
     where d.mailout_id = p_mailout_id and d.subscriber_id = any (p_subscriber_ids)
       and d.claimed_by = p_lease_token and d.status = 'sending' and d.attempted_at is null
       and s.id = d.subscriber_id and s.status = 'active'
    returning d.subscriber_id
  )
  select coalesce(array_agg(marked.subscriber_id), '{}') into v_marked from marked;

  -- One decision per id, in order; an id given twice is decided once (later copies: lost).
  return query
    select u.x,
           case when u.n > 1 then 'lost'
                when u.x = any (v_marked) then 'send'
                when u.x = any (v_skipped) then 'skip'
                else 'lost' end
      from (select x, ord, row_number() over (partition by x order by ord) as n
              from unnest(p_subscriber_ids) with ordinality as i(x, ord)) u
     order by u.ord;
end;
$function$;

comment on function begin_sends(text,uuid,uuid[],integer) is
  'Mark messages as handed to SES right before the SES call, while the lease is live (extending it to now() + p_lease_seconds): send, skip (left the list) or lost, per id in order.';

CREATE OR REPLACE FUNCTION public.canonical_mailout_id(p_id text)
 RETURNS text
 LANGUAGE plpgsql
 IMMUTABLE
 SET search_path TO 'public', 'pg_temp'
AS $function$
declare
  v text := btrim(p_id);
  m text[];
begin
  if p_id is null then
    return null;
  end if;
  m := regexp_match(v, '[?&]p=([0-9A-Fa-f-]{32,36})(&|#|$)');
  if m is not null and replace(m[1], '-', '') ~ '^[0-9A-Fa-f]{32}$' then
    return replace(m[1], '-', '')::uuid::text;
  end if;
  m := regexp_match(lower(replace(split_part(split_part(v, '#', 1), '?', 1), '-', '')), '([0-9a-f]{32})/?$');
  if m is not null then
    return m[1]::uuid::text;
  end if;
  return public.mailout_id_from_name(p_id);
end;
$function$;

comment on function canonical_mailout_id(text) is
  'A pre-canonical mailout id (any spelling of a Notion page, or a name) in its canonical UUID form.';

CREATE OR REPLACE FUNCTION public.claim_batch(p_mailout_id text, p_lease_token uuid, p_limit integer DEFAULT 50, p_lease_seconds integer DEFAULT 120)
 RETURNS TABLE(subscriber_id uuid, email text, name text)
 LANGUAGE plpgsql
 SET search_path TO 'public', 'pg_temp'
AS $function$
#variable_conflict use_column
declare
  v_ids   uuid[];
  v_sent  integer;
  v_done  boolean;
begin
  if p_limit is null or p_limit < 1 or p_limit > 10000 then
    raise exception 'claim_batch: limit must be between 1 and 10000' using errcode = '22023';
  end if;

  -- The mailout's row lock, held to the end, also makes the chunk copies one at a time.
  update public.mailouts
     set lease_until = greatest(lease_until, now() + make_interval(secs => p_lease_seconds)),
         updated_at = now()
   where id = p_mailout_id
     and lease_token = p_lease_token
     and status = 'sending'
     and lease_until > now()
  returning snapshot_done into v_done;
  if not found then
    raise exception 'claim_batch: the lease on mailout % is gone', p_mailout_id
      using errcode = 'ML001',
            hint = 'The lease expired and the mailout was resumed elsewhere, or it was paused.';
  end if;

  loop
    select array_agg(q.subscriber_id) into v_ids
      from (select d.subscriber_id
              from public.deliveries d
             where d.mailout_id = p_mailout_id and d.status = 'queued'
             order by d.subscriber_id
             limit p_limit
             for update skip locked) q;
    if v_ids is null then
      exit when v_done;
      v_done := private.snapshot_recipients(p_mailout_id);
      continue;
    end if;

    update public.deliveries d
       set status = 'skipped',
           error_code = 'subscriber_' || coalesce((select s.status from public.subscribers s where s.id = d.subscriber_id), 'deleted'),
           error_message = 'the subscriber left the list after the mailout was claimed',
           updated_at = now()
     where d.mailout_id = p_mailout_id
       and d.subscriber_id = any (v_ids)
       and not exists (select 1 from public.subscribers s where s.id = d.subscriber_id and s.status = 'active');

    return query
      update public.deliveries d
         set status = 'sending',
             claimed_by = p_lease_token,
             attempts = d.attempts + 1,
             updated_at = now()
        from public.subscribers s
       where d.mailout_id = p_mailout_id
         and d.subscriber_id = any (v_ids)
         and d.status = 'queued'
         and s.id = d.subscriber_id
      returning d.subscriber_id, d.email, s.name;
    get diagnostics v_sent = row_count;
    exit when v_sent > 0;
  end loop;
end;
$function$;

comment on function claim_batch(text,uuid,integer,integer) is
  'Hand out the next queued deliveries (FOR UPDATE SKIP LOCKED), skipping inactive or deleted subscribers, copying the next chunk of recipients when the queue runs dry; extends the lease.';

CREATE OR REPLACE FUNCTION public.claim_mailout(p_mailout_id text, p_subject text DEFAULT NULL::text, p_lease_seconds integer DEFAULT 120, p_content jsonb DEFAULT NULL::jsonb)
 RETURNS TABLE(outcome text, mailout_id text, status text, lease_token uuid, lease_until timestamp with time zone, recipients integer, queued integer, unknown integer, last_error text, content jsonb)
 LANGUAGE plpgsql
 SET search_path TO 'public', 'pg_temp'
AS $function$
#variable_conflict use_column
declare
  v_token      uuid := gen_random_uuid();
  v_until      timestamptz;
  v_count      integer;
  v_reason     text := 'No letter is stored for this mailout and none was given: nothing was claimed. Send it from its Notion page.';
  m            public.mailouts%rowtype;
  r            public.mailouts%rowtype;
begin
  if p_mailout_id is null or length(btrim(p_mailout_id)) = 0 then
    raise exception 'claim_mailout: mailout id is required' using errcode = '22023';
  end if;
  if p_mailout_id !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
    raise exception 'claim_mailout: mailout id % is not a dashed lower-case UUID', left(p_mailout_id, 100) using errcode = '22023';
  end if;
  if p_lease_seconds is null or p_lease_seconds < 1 or p_lease_seconds > 86400 then
    raise exception 'claim_mailout: lease seconds must be between 1 and 86400' using errcode = '22023';
  end if;
  v_until := now() + make_interval(secs => p_lease_seconds);

  if p_content is not null and not exists (select 1 from public.mailouts where id = p_mailout_id) then
    -- The instant of the claim: subscriber changes under way commit first, later ones wait
    -- for this transaction and are stamped after it (see private.subscribers_status_change).
    lock table public.subscribers in share mode;
    insert into public.mailouts (id, subject, status, lease_token, lease_until, started_at, content,
                                 snapshot_at, snapshot_from, snapshot_done)
    values (p_mailout_id, p_subject, 'sending', v_token, v_until, now(), p_content,
            clock_timestamp(), '00000000-0000-0000-0000-000000000000', false)
    on conflict (id) do nothing;

    if found then
      select count(*)::integer into v_count from public.subscribers s where s.status = 'active';
      perform private.snapshot_recipients(p_mailout_id);
      update public.mailouts set claimed_recipients = v_count where id = p_mailout_id;
      return query select 'claimed'::text, p_mailout_id, 'sending'::text, v_token, v_until,
                          v_count, v_count, 0, null::text, p_content;
      return;
    end if;
  end if;

  select * into m from public.mailouts where id = p_mailout_id for update;

  if not found then
    return query select 'no_letter'::text, p_mailout_id, null::text, null::uuid, null::timestamptz,
                        0, 0, 0, v_reason, null::jsonb;
    return;
  end if;
  if m.status = 'sent' then
    return query select 'already_sent'::text, m.id, m.status, null::uuid, m.lease_until,
                        m.recipients, 0, m.unknown, m.last_error, null::jsonb;
    return;
  end if;
  if m.status = 'sending' and m.lease_until > now() then
    return query select 'in_progress'::text, m.id, m.status, null::uuid, m.lease_until,
                        m.recipients + private.uncopied_recipients(m), m.queued + private.uncopied_recipients(m),
                        m.unknown, m.last_error, null::jsonb;
    return;
  end if;
  if m.content is null and p_content is null then
    if m.status = 'sending' then
      update public.mailouts
         set status = 'failed', lease_token = null, lease_until = null, last_error = v_reason, updated_at = now()
       where id = p_mailout_id;
    end if;
    return query select 'no_letter'::text, m.id, case when m.status = 'sending' then 'failed' else m.status end,
                        null::uuid, null::timestamptz, m.recipients, 0, m.unknown, v_reason, null::jsonb;
    return;
  end if;

  -- Resume. A row a dead invocation took but never attempted goes back to the queue; a row
  -- it was sending (begin_send ran) may or may not have reached SES: it is never retried.
  update public.deliveries
     set status = 'queued', claimed_by = null, attempts = greatest(attempts - 1, 0), updated_at = now()
   where mailout_id = p_mailout_id and status = 'sending' and attempted_at is null;
  update public.deliveries
     set status = 'unknown',
         error_code = 'interrupted',
         error_message = 'in flight when the previous invocation stopped; not retried',
         updated_at = now()
   where mailout_id = p_mailout_id and status = 'sending';

  update public.mailouts
     set status = 'sending',
         subject = coalesce(subject, p_subject),
         -- The letter fixed at the first claim wins: everyone gets the same one.
         content = coalesce(content, p_content),
         lease_token = v_token,
         lease_until = v_until,
         last_error = null,
         updated_at = now()
   where id = p_mailout_id
  returning * into r;

  -- The counts as the ledger has them now, takeover included (a row turned unknown that SES
  -- had already reported was settled as sent on the way), the recipients not copied yet queued.
  return query select 'resumed'::text, r.id, 'sending'::text, v_token, v_until,
                      r.recipients + private.uncopied_recipients(r), r.queued + private.uncopied_recipients(r),
                      r.unknown, m.last_error, r.content;
end;
$function$;

comment on function claim_mailout(text,text,integer,jsonb) is
  'Claim (or resume) a mailout for sending; exactly one concurrent caller wins; never without a letter. Fixes the recipients (active now) and copies the first chunk.';

CREATE OR REPLACE FUNCTION public.claim_notion_refresh(p_mailout_id text, p_min_interval_seconds integer DEFAULT 10)
 RETURNS TABLE(should_refresh boolean)
 LANGUAGE plpgsql
 SET search_path TO 'public', 'pg_temp'
AS $function$
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
$function$;

comment on function claim_notion_refresh(text,integer) is
  'True at most once per interval per mailout: the caller then refreshes the Notion counts; otherwise marks it pending.';

CREATE OR REPLACE FUNCTION public.claim_pending_notion_refreshes(p_min_interval_seconds integer DEFAULT 10, p_limit integer DEFAULT 20)
 RETURNS TABLE(mailout_id text)
 LANGUAGE plpgsql
 SET search_path TO 'public', 'pg_temp'
AS $function$
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
$function$;

comment on function claim_pending_notion_refreshes(integer,integer) is
  'Claim the held-back Notion refreshes that are now due (for a cron); each mailout goes to one caller.';

CREATE OR REPLACE FUNCTION public.complained_stay_out()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO 'public', 'pg_temp'
AS $function$
begin
  if new.status in ('active', 'unsubscribed')
     and exists (select 1 from public.ses_events e where e.event_type = 'Complaint' and lower(e.email) = lower(new.email)) then
    new.status := 'complained';
  end if;
  return new;
end;
$function$;

comment on function complained_stay_out() is
  'Trigger: an address inserted again after it complained starts as complained.';

CREATE OR REPLACE FUNCTION public.complaint_suppresses()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO 'public', 'pg_temp'
AS $function$
begin
  update public.subscribers s
     set status = 'complained', status_updated_at = now()
   where lower(s.email) in (select lower(x) from unnest(new.recipients || new.email) x where x is not null)
     and s.status in ('active', 'unsubscribed');
  return null;
end;
$function$;

comment on function complaint_suppresses() is
  'Trigger: the complained recipients of a stored Complaint event become complained (for good), unless bounced.';

CREATE OR REPLACE FUNCTION public.email_is_canonical(p_email text)
 RETURNS boolean
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO 'public', 'pg_temp'
AS $function$
  select p_email ~ '^[!-~]+@[!-~]+$' and split_part(p_email, '@', 2) = lower(split_part(p_email, '@', 2));
$function$;

comment on function email_is_canonical(text) is
  'An address in the import''s canonical form: ASCII without spaces, the domain (punycode) in lower case.';

CREATE OR REPLACE FUNCTION public.finish_mailout(p_mailout_id text, p_lease_token uuid, p_outcome text, p_reason text DEFAULT NULL::text)
 RETURNS TABLE(mailout_id text, status text, recipients integer, sent integer, failed integer, skipped integer, unknown integer, queued integer, sent_at timestamp with time zone, last_error text)
 LANGUAGE plpgsql
 SET search_path TO 'public', 'pg_temp'
AS $function$
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
    if m.queued > 0 or m.sending > 0 or not m.snapshot_done then
      raise exception 'finish_mailout: mailout % still has % queued (% not copied yet) and % sending deliveries',
        p_mailout_id, m.queued + private.uncopied_recipients(m), private.uncopied_recipients(m), m.sending using errcode = 'ML002';
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
    returning u.id, u.status, u.recipients + private.uncopied_recipients(u), u.sent, u.failed, u.skipped, u.unknown,
              u.queued + private.uncopied_recipients(u), u.sent_at, u.last_error;
end;
$function$;

comment on function finish_mailout(text,uuid,text,text) is
  'End the lease holder''s turn: complete (sent/failed, only once every recipient is copied and settled), paused, failed, or released for a fresh invocation.';

CREATE OR REPLACE FUNCTION public.get_mailout(p_mailout_id text)
 RETURNS TABLE(id text, subject text, status text, lease_until timestamp with time zone, recipients integer, sent integer, failed integer, skipped integer, unknown integer, started_at timestamp with time zone, sent_at timestamp with time zone, last_error text)
 LANGUAGE sql
 STABLE
 SET search_path TO 'public', 'pg_temp'
AS $function$
  select m.id, m.subject, m.status, m.lease_until, m.recipients, m.sent, m.failed, m.skipped,
         m.unknown, m.started_at, m.sent_at, m.last_error
    from public.mailouts m where m.id = p_mailout_id;
$function$;

comment on function get_mailout(text) is
  'One mailout''s status and counts.';

CREATE OR REPLACE FUNCTION public.health_check()
 RETURNS TABLE(ok boolean, checked_at timestamp with time zone)
 LANGUAGE sql
 STABLE
 SET search_path TO 'public', 'pg_temp'
AS $function$
  select true, now();
$function$;

comment on function health_check() is
  'Liveness of the database for GET /api/health.';

CREATE OR REPLACE FUNCTION public.import_subscribers(p_rows jsonb, p_dry_run boolean DEFAULT false)
 RETURNS TABLE(inserted integer, updated integer, unchanged integer)
 LANGUAGE plpgsql
 SET search_path TO 'public', 'pg_temp'
AS $function$
#variable_conflict use_column
declare
  v_total     integer;
  v_inserted  integer;
  v_updated   integer;
  v_bad       text;
begin
  if p_rows is null or jsonb_typeof(p_rows) <> 'array' then
    raise exception 'import_subscribers: p_rows must be a JSON array' using errcode = '22023';
  end if;
  if jsonb_array_length(p_rows) > 10000 then
    raise exception 'import_subscribers: at most 10000 rows per call (got %)', jsonb_array_length(p_rows)
      using errcode = '22023';
  end if;

  -- The client validates properly; this only keeps obvious garbage out of the table.
  select r.email into v_bad
    from jsonb_to_recordset(p_rows) as r(email text)
   where r.email is null or btrim(r.email) !~ '^[^@[:space:]]+@[^@[:space:]]+$' or length(btrim(r.email)) > 320
   limit 1;
  if found then
    raise exception 'import_subscribers: not an email address: %', coalesce(v_bad, '(null)') using errcode = '22023';
  end if;

  if p_dry_run then
    with input as (
      -- The chunk, trimmed, without its own duplicates (first occurrence wins).
      select distinct on (lower(x.email)) x.email, x.name, x.source
        from (select btrim(e.value ->> 'email') as email, nullif(btrim(coalesce(e.value ->> 'name', e.value ->> 'from_name')), '') as name,
                     nullif(btrim(e.value ->> 'source'), '') as source, e.ord
                from jsonb_array_elements(p_rows) with ordinality as e(value, ord)) x
       order by lower(x.email), x.ord
    )
    select count(*)::integer,
           count(*) filter (where s.id is null)::integer,
           count(*) filter (where s.id is not null and (
             (nullif(btrim(s.name), '') is null and i.name is not null)
             or (s.source is null and i.source is not null)))::integer
      into v_total, v_inserted, v_updated
      from input i
      left join public.subscribers s on lower(s.email) = lower(i.email);
  else
    -- The same conditions as the dry run above, as the ON CONFLICT update and its WHERE.
    -- xmax = 0 on a row returned by INSERT ... ON CONFLICT means it was inserted, not updated;
    -- a conflicting row that the WHERE filters out is not returned at all: unchanged.
    with input as (
      select distinct on (lower(x.email)) x.email, x.name, x.source
        from (select btrim(e.value ->> 'email') as email, nullif(btrim(coalesce(e.value ->> 'name', e.value ->> 'from_name')), '') as name,
                     nullif(btrim(e.value ->> 'source'), '') as source, e.ord
                from jsonb_array_elements(p_rows) with ordinality as e(value, ord)) x
       order by lower(x.email), x.ord
    ),
    upserted as (
      insert into public.subscribers as s (email, name, source, status)
      select i.email, i.name, i.source, 'active' from input i
      on conflict ((lower(email))) do update
         set name = case when nullif(btrim(s.name), '') is null then excluded.name else s.name end,
             source    = coalesce(s.source, excluded.source)
       where (nullif(btrim(s.name), '') is null and excluded.name is not null)
          or (s.source is null and excluded.source is not null)
      returning (s.xmax = 0) as was_inserted
    )
    select (select count(*) from input)::integer,
           count(*) filter (where u.was_inserted)::integer,
           count(*) filter (where not u.was_inserted)::integer
      into v_total, v_inserted, v_updated
      from upserted u;
  end if;

  return query select v_inserted, v_updated, v_total - v_inserted - v_updated;
end;
$function$;

comment on function import_subscribers(jsonb,boolean) is
  'Upsert one chunk of imported subscribers: new -> active; existing keep their status, names and sources filled only where missing.';

CREATE OR REPLACE FUNCTION public.keep_sns_dead_letter(p_sns_message_id text, p_topic_arn text, p_reason text, p_body text)
 RETURNS TABLE(kept boolean, deliveries integer)
 LANGUAGE plpgsql
 SET search_path TO 'public', 'pg_temp'
AS $function$
#variable_conflict use_column
begin
  return query
  insert into public.sns_dead_letters as d (sns_message_id, topic_arn, reason, body)
  values (p_sns_message_id, p_topic_arn, p_reason, p_body)
  on conflict (sns_message_id) do update
    set deliveries = d.deliveries + 1, last_seen_at = now()
  returning (d.deliveries = 1), d.deliveries;
end;
$function$;

CREATE OR REPLACE FUNCTION public.mailout_counts(p_mailout_id text)
 RETURNS TABLE(recipients integer, queued integer, sending integer, sent integer, failed integer, skipped integer, unknown integer)
 LANGUAGE sql
 STABLE
 SET search_path TO 'public', 'pg_temp'
AS $function$
  select m.recipients + private.uncopied_recipients(m), m.queued + private.uncopied_recipients(m),
         m.sending, m.sent, m.failed, m.skipped, m.unknown
    from public.mailouts m where m.id = p_mailout_id
  union all
  select 0, 0, 0, 0, 0, 0, 0
   where not exists (select 1 from public.mailouts m where m.id = p_mailout_id);
$function$;

comment on function mailout_counts(text) is
  'Per-status delivery counts of a mailout (its counters; recipients not copied yet count as queued).';

CREATE OR REPLACE FUNCTION public.mailout_feedback_stats(p_mailout_id text)
 RETURNS TABLE(sends integer, delivered integer, hard_bounces integer, soft_bounces integer, complaints integer)
 LANGUAGE sql
 STABLE
 SET search_path TO 'public', 'pg_temp'
AS $function$
  select m.sent, m.delivered, m.hard_bounces, m.soft_bounces, m.complaints
    from public.mailouts m where m.id = p_mailout_id
  union all
  select 0, 0, 0, 0, 0
   where not exists (select 1 from public.mailouts m where m.id = p_mailout_id);
$function$;

comment on function mailout_feedback_stats(text) is
  'Sends, deliveries, hard and soft bounces and complaints of a mailout, recipients counted once (its counters).';

CREATE OR REPLACE FUNCTION public.mailout_id_from_name(p_name text)
 RETURNS text
 LANGUAGE plpgsql
 IMMUTABLE
 SET search_path TO 'public', 'pg_temp'
AS $function$
declare
  h bytea := substring(sha256(decode('f541b80d99a34821af5fa93612669acc', 'hex') || convert_to(coalesce(p_name, ''), 'UTF8')) from 1 for 16);
begin
  if p_name is null then
    return null;
  end if;
  h := set_byte(h, 6, (get_byte(h, 6) & 15) | 128);
  h := set_byte(h, 8, (get_byte(h, 8) & 63) | 128);
  return encode(h, 'hex')::uuid::text;
end;
$function$;

comment on function mailout_id_from_name(text) is
  'Name-based UUID (v8, SHA-256) of a letter that is not a Notion page; equals lib/mailout-id mailoutIdFromName.';

CREATE OR REPLACE FUNCTION public.mailout_letter(p_mailout_id text)
 RETURNS TABLE(subject text, content jsonb)
 LANGUAGE sql
 STABLE
 SET search_path TO 'public', 'pg_temp'
AS $function$
  select m.subject, m.content
    from public.mailouts m
   where m.id::text = p_mailout_id and m.content is not null;
$function$;

comment on function mailout_letter(text) is
  'The stored letter of a claimed mailout (its web version).';

CREATE OR REPLACE FUNCTION public.mailout_origin(p_mailout_id text)
 RETURNS TABLE(origin text)
 LANGUAGE sql
 STABLE
 SET search_path TO 'public', 'pg_temp'
AS $function$
  select case when m.content is null then null
              when m.content ->> 'origin' in ('notion', 'file') then m.content ->> 'origin'
              else 'unknown' end
    from public.mailouts m
   where m.id = p_mailout_id;
$function$;

comment on function mailout_origin(text) is
  'Where a claimed mailout''s letter came from: notion, file, unknown (a letter stored without its origin), or null (no letter stored).';

CREATE OR REPLACE FUNCTION public.mailout_pending_count(p_mailout_id text)
 RETURNS TABLE(claimed boolean, status text, pending integer)
 LANGUAGE sql
 STABLE
 SET search_path TO 'public', 'pg_temp'
AS $function$
  select true, m.status, m.queued + private.uncopied_recipients(m)
    from public.mailouts m where m.id = p_mailout_id
  union all
  select false, null::text, (select count(*)::integer from public.subscribers s where s.status = 'active')
   where not exists (select 1 from public.mailouts m where m.id = p_mailout_id);
$function$;

comment on function mailout_pending_count(text) is
  'Messages a send of this mailout would need now: queued deliveries and recipients not copied yet, or active subscribers when unclaimed (one row).';

CREATE OR REPLACE FUNCTION public.mailout_report_page(p_mailout_id text, p_after_status text DEFAULT NULL::text, p_after_subscriber uuid DEFAULT NULL::uuid, p_limit integer DEFAULT 1000)
 RETURNS TABLE(subscriber_id uuid, email text, status text, feedback text, error_code text, error_message text, ses_message_id text, attempts integer, updated_at timestamp with time zone)
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'public', 'pg_temp'
AS $function$
declare
  v_order constant text[] := array['failed', 'unknown', 'skipped', 'queued', 'sending', 'sent'];
  v_from integer := 1;
  v_left integer := p_limit;
  v_after uuid;
  v_rows integer;
begin
  if p_limit is null or p_limit < 1 or p_limit > 10000 then
    raise exception 'mailout_report_page: p_limit must be between 1 and 10000 (got %)', p_limit using errcode = '22023';
  end if;
  if (p_after_status is null) <> (p_after_subscriber is null) then
    raise exception 'mailout_report_page: give both p_after_status and p_after_subscriber, or neither' using errcode = '22023';
  end if;
  if p_after_status is not null then
    v_from := array_position(v_order, p_after_status);
    if v_from is null then
      raise exception 'mailout_report_page: unknown status %', p_after_status using errcode = '22023';
    end if;
  end if;
  for i in v_from .. array_length(v_order, 1) loop
    -- Within the cursor's own status, continue after its subscriber; later statuses from their start.
    v_after := case when i = v_from then p_after_subscriber end;
    -- The status and the presence of a cursor are written into the query, not passed as
    -- parameters, so that the planner uses the index that holds that status, from the cursor on.
    return query execute format(
      $q$select d.subscriber_id, d.email, d.status,
                -- The worst feedback SES sent for the message: complaint, hard bounce, soft bounce, delivered.
                (select (array['complaint', 'hard_bounce', 'soft_bounce', 'delivered'])[min(
                          case
                            when e.event_type = 'Complaint' then 1
                            when e.event_type = 'Bounce' and e.bounce_class = 'hard' then 2
                            when e.event_type = 'Bounce' then 3
                            when e.event_type = 'Delivery' then 4
                          end)]
                   from public.ses_events e
                  where e.ses_message_id = d.ses_message_id) as feedback,
                d.error_code, d.error_message, d.ses_message_id, d.attempts, d.updated_at
           from public.deliveries d
          where d.mailout_id = $1 and d.status = %L %s
          order by d.subscriber_id
          limit $3$q$, v_order[i], case when v_after is not null then 'and d.subscriber_id > $2' else '' end)
      using p_mailout_id, v_after, v_left;
    get diagnostics v_rows = row_count;
    v_left := v_left - v_rows;
    exit when v_left = 0;
  end loop;
end;
$function$;

comment on function mailout_report_page(text,text,uuid,integer) is
  'One keyset page of a mailout''s per-recipient report, failures first, then by subscriber id; an empty page is the end.';

CREATE OR REPLACE FUNCTION public.mailout_resume_due()
 RETURNS boolean
 LANGUAGE sql
 STABLE
 SET search_path TO 'public', 'pg_temp'
AS $function$
  select exists (select 1 from public.mailouts_to_resume(1))
      or exists (select 1 from public.notion_refresh where pending);
$function$;

comment on function mailout_resume_due() is
  'True when /api/cron/resume has work: an expired-lease sending mailout, or a pending Notion refresh.';

CREATE OR REPLACE FUNCTION public.mailout_resume_tick(p_url text)
 RETURNS bigint
 LANGUAGE plpgsql
 SET search_path TO 'public', 'pg_temp'
AS $function$
declare
  v_secret text;
begin
  if not public.mailout_resume_due() then
    return null;
  end if;
  -- Resolved when called, so that the migration applies where Vault and pg_net are absent.
  select s.decrypted_secret into v_secret from vault.decrypted_secrets s where s.name = 'mailout_cron_secret';
  if v_secret is null then
    raise exception using errcode = 'MR001',
      message = 'The Vault secret mailout_cron_secret is missing: run npm run setup:cron again.';
  end if;
  return net.http_get(
    url := p_url,
    headers := jsonb_build_object('Authorization', 'Bearer ' || v_secret),
    timeout_milliseconds := 30000
  );
end;
$function$;

comment on function mailout_resume_tick(text) is
  'The pg_cron job: GET p_url (…/api/cron/resume) with the Vault CRON_SECRET when mailout_resume_due(). Returns the pg_net request id, or null.';

CREATE OR REPLACE FUNCTION public.mailouts_to_resume(p_limit integer DEFAULT 10)
 RETURNS TABLE(mailout_id text, lease_until timestamp with time zone)
 LANGUAGE sql
 STABLE
 SET search_path TO 'public', 'pg_temp'
AS $function$
  select m.id, m.lease_until
    from public.mailouts m
   where m.status = 'sending' and m.lease_until <= now()
   order by m.lease_until
   limit greatest(p_limit, 0);
$function$;

comment on function mailouts_to_resume(integer) is
  'Mailouts left sending with an expired lease.';

CREATE OR REPLACE FUNCTION public.readiness_facts()
 RETURNS TABLE(active_subscribers integer, applied_migrations text[], resume_job boolean)
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'public', 'pg_temp'
AS $function$
declare
  v_applied text[] := '{}';
  v_job boolean := false;
begin
  -- Dynamic: either table may be absent (a database migrated by hand, a Postgres without pg_cron).
  if to_regclass('supabase_migrations.schema_migrations') is not null then
    execute 'select coalesce(array_agg(version::text order by version), ''{}'') from supabase_migrations.schema_migrations' into v_applied;
  end if;
  if to_regclass('cron.job') is not null then
    execute 'select exists (select 1 from cron.job where jobname = ''mailout-resume'')' into v_job;
  end if;
  return query
    select (select count(*)::integer from public.subscribers s where s.status = 'active'), v_applied, v_job;
end;
$function$;

comment on function readiness_facts() is
  'For npm run doctor: active subscribers, the applied migration versions, and whether the pg_cron job mailout-resume exists.';

CREATE OR REPLACE FUNCTION public.record_results(p_mailout_id text, p_lease_token uuid, p_results jsonb)
 RETURNS TABLE(recorded integer, requeued integer)
 LANGUAGE plpgsql
 SET search_path TO 'public', 'pg_temp'
AS $function$
declare
  v_recorded integer;
  v_requeued integer;
begin
  if p_results is null or jsonb_typeof(p_results) <> 'array' then
    raise exception 'record_results: results must be a JSON array' using errcode = '22023';
  end if;
  -- Casting every subscriber_id here refuses a malformed one (22P02) before anything changes.
  if exists (select 1 from jsonb_to_recordset(p_results) as r(subscriber_id uuid, status text)
              where r.subscriber_id is null or r.status is null or r.status not in ('sent', 'failed', 'unknown', 'queued')) then
    raise exception 'record_results: each result needs a subscriber_id and a status of sent, failed, unknown or queued'
      using errcode = '22023';
  end if;
  -- The mailout row first, as every function that changes deliveries takes it (its counters
  -- are kept there, 20261203120100): one lock order, no deadlock with a takeover.
  perform 1 from public.mailouts where id = p_mailout_id for update;

  -- Only rows still `sending` under this lease: once a takeover settled a row, it is not ours.
  update public.deliveries d
     set status = r.status,
         ses_message_id = coalesce(r.ses_message_id, d.ses_message_id),
         error_code = r.error_code,
         error_message = left(r.error_message, 2000),
         updated_at = now()
    from jsonb_to_recordset(p_results)
         as r(subscriber_id uuid, status text, ses_message_id text, error_code text, error_message text)
   where r.status in ('sent', 'failed', 'unknown')
     and d.mailout_id = p_mailout_id
     and d.subscriber_id = r.subscriber_id
     and d.claimed_by = p_lease_token
     and d.status = 'sending';
  get diagnostics v_recorded = row_count;

  update public.deliveries d
     set status = 'queued',
         claimed_by = null,
         attempted_at = null,
         attempts = greatest(d.attempts - 1, 0),
         updated_at = now()
    from jsonb_to_recordset(p_results) as r(subscriber_id uuid, status text)
   where r.status = 'queued'
     and d.mailout_id = p_mailout_id
     and d.subscriber_id = r.subscriber_id
     and d.claimed_by = p_lease_token
     and d.status = 'sending';
  -- (A row handed back after begin_send was refused by SES before it was accepted, or never
  -- handed to SES at all: the caller only hands back what SES did not take.)
  get diagnostics v_requeued = row_count;

  return query select v_recorded, v_requeued;
end;
$function$;

comment on function record_results(text,uuid,jsonb) is
  'Record the outcomes of sends as SES answers them, or hand back rows never sent; only rows still sending under this lease.';

CREATE OR REPLACE FUNCTION public.record_test_sends(p_mailout_id text, p_run_id uuid, p_results jsonb)
 RETURNS TABLE(recorded integer)
 LANGUAGE plpgsql
 SET search_path TO 'public', 'pg_temp'
AS $function$
declare
  v_count integer;
begin
  if p_results is null or jsonb_typeof(p_results) <> 'array' then
    raise exception 'record_test_sends: results must be a JSON array' using errcode = '22023';
  end if;
  insert into public.test_sends (mailout_id, run_id, email, status, ses_message_id, error_code, error_message)
  select p_mailout_id, p_run_id, r.email, r.status, r.ses_message_id, r.error_code, left(r.error_message, 2000)
    from jsonb_to_recordset(p_results)
         as r(email text, status text, ses_message_id text, error_code text, error_message text);
  get diagnostics v_count = row_count;
  return query select v_count;
end;
$function$;

comment on function record_test_sends(text,uuid,jsonb) is
  'Record one test run''s outcomes.';

CREATE OR REPLACE FUNCTION public.requeue_unknown(p_mailout_id text, p_quiet_minutes integer)
 RETURNS TABLE(outcome text, requeued integer)
 LANGUAGE plpgsql
 SET search_path TO 'public', 'pg_temp'
AS $function$
declare
  w record;
  v_count integer;
begin
  if p_quiet_minutes is null or p_quiet_minutes < 1 then
    raise exception 'requeue_unknown: the quiet window must be at least 1 minute' using errcode = '22023';
  end if;
  perform 1 from public.mailouts m where m.id = p_mailout_id for update;
  select * into w from public.resend_window(p_mailout_id, p_quiet_minutes);
  if not w.found then
    return query select 'not_found'::text, 0;
    return;
  end if;
  if w.status <> 'sent' then
    return query select 'not_finished'::text, 0;
    return;
  end if;
  if not w.ready then
    return query select 'not_quiet'::text, 0;
    return;
  end if;

  update public.deliveries d
     set status = 'queued', claimed_by = null, attempted_at = null, resent_at = now(),
         error_code = 'resent',
         error_message = format('queued again by npm run resend-unknown: SES never reported it (%s minutes quiet); sent at most once more', p_quiet_minutes),
         updated_at = now()
   where d.mailout_id = p_mailout_id and d.status = 'unknown' and private.never_reported(d);
  get diagnostics v_count = row_count;
  if v_count = 0 then
    return query select 'nothing'::text, 0;
    return;
  end if;
  -- Paused, so that the send's ordinary resume (claim_mailout) takes the queued rows.
  update public.mailouts
     set status = 'paused', lease_token = null, lease_until = null,
         last_error = format('%s recipients SES never reported are queued to be sent once more (npm run resend-unknown)', v_count),
         updated_at = now()
   where id = p_mailout_id;
  return query select 'requeued'::text, v_count;
end;
$function$;

comment on function requeue_unknown(text,integer) is
  'Queue once more the unknown rows of a finished, quiet mailout that SES never reported (each row at most once); the mailout becomes paused for the resume.';

CREATE OR REPLACE FUNCTION public.resend_window(p_mailout_id text, p_quiet_minutes integer)
 RETURNS TABLE(found boolean, status text, last_activity_at timestamp with time zone, quiet_until timestamp with time zone, ready boolean, never_reported integer)
 LANGUAGE sql
 STABLE
 SET search_path TO 'public', 'pg_temp'
AS $function$
  with m as (
    select m.id, m.status,
           greatest(m.sent_at, m.updated_at,
                    (select max(e.received_at) from public.ses_events e where e.mailout_id = m.id)) as last_activity_at
      from public.mailouts m where m.id = p_mailout_id
  )
  select true, m.status, m.last_activity_at,
         m.last_activity_at + make_interval(mins => p_quiet_minutes),
         m.status = 'sent' and m.last_activity_at + make_interval(mins => p_quiet_minutes) <= now(),
         (select count(*)::integer from public.deliveries d
           where d.mailout_id = m.id and d.status = 'unknown' and private.never_reported(d))
    from m
  union all
  select false, null::text, null::timestamptz, null::timestamptz, false, 0
   where not exists (select 1 from m);
$function$;

comment on function resend_window(text,integer) is
  'Whether a mailout may have its never-reported unknown rows resent: finished (sent) and quiet (no SES event, no change) for p_quiet_minutes.';

CREATE OR REPLACE FUNCTION public.resubscribe(p_subscriber_id uuid)
 RETURNS TABLE(subscriber_id uuid, email text, status text, changed boolean)
 LANGUAGE plpgsql
 SET search_path TO 'public', 'pg_temp'
AS $function$
#variable_conflict use_column
begin
  return query
    update public.subscribers s
       set status = 'active', status_updated_at = now()
     where s.id = p_subscriber_id and s.status = 'unsubscribed'
    returning s.id, s.email, s.status, true;
  if not found then
    return query select s.id, s.email, s.status, false
                   from public.subscribers s where s.id = p_subscriber_id;
  end if;
end;
$function$;

comment on function resubscribe(uuid) is
  'unsubscribed -> active only; a bounced address stays bounced.';

CREATE OR REPLACE FUNCTION public.schedule_mailout_resume(p_app_base_url text, p_cron_secret text, p_schedule text DEFAULT '* * * * *'::text)
 RETURNS text
 LANGUAGE plpgsql
 SET search_path TO 'public', 'pg_temp'
AS $function$
declare
  v_missing   text[] := '{}';
  v_secret_id uuid;
  v_url       text;
begin
  if p_app_base_url is null or p_app_base_url !~ '^https?://[^/\s]+' then
    raise exception using errcode = '22023',
      message = 'APP_BASE_URL must be the deployment''s public URL, such as https://mailout.example.com.';
  end if;
  if p_cron_secret is null or length(p_cron_secret) < 16 then
    raise exception using errcode = '22023',
      message = 'CRON_SECRET must be set (at least 16 characters), the same value as in the Vercel project.';
  end if;

  -- Supabase offers these extensions; enable the ones not enabled yet.
  if to_regnamespace('cron') is null and exists (select 1 from pg_available_extensions where name = 'pg_cron') then
    create extension if not exists pg_cron;
  end if;
  if to_regnamespace('net') is null and exists (select 1 from pg_available_extensions where name = 'pg_net') then
    create extension if not exists pg_net;
  end if;
  if to_regnamespace('vault') is null and exists (select 1 from pg_available_extensions where name = 'supabase_vault') then
    create extension if not exists supabase_vault;
  end if;
  if to_regprocedure('cron.schedule(text,text,text)') is null then v_missing := v_missing || 'pg_cron'::text; end if;
  if to_regprocedure('net.http_get(text,jsonb,jsonb,integer)') is null then v_missing := v_missing || 'pg_net'::text; end if;
  if to_regclass('vault.decrypted_secrets') is null then v_missing := v_missing || 'supabase_vault'::text; end if;
  if cardinality(v_missing) > 0 then
    raise exception using errcode = 'MR002',
      message = format('This database has no %s, so it cannot call /api/cron/resume on a schedule.', array_to_string(v_missing, ', ')),
      hint = 'On Supabase, enable pg_cron and pg_net (Database -> Extensions) and run npm run setup:cron again. '
          || 'Elsewhere, have any scheduler call GET /api/cron/resume with Authorization: Bearer <CRON_SECRET> every few minutes '
          || '(on Vercel Pro: "*/5 * * * *" in vercel.json).';
  end if;

  -- The secret lives in Vault, not in the job's command: cron.job is readable more widely.
  select s.id into v_secret_id from vault.secrets s where s.name = 'mailout_cron_secret';
  if v_secret_id is null then
    perform vault.create_secret(p_cron_secret, 'mailout_cron_secret', 'CRON_SECRET of the mailout executor (pg_cron job mailout-resume)');
  else
    perform vault.update_secret(v_secret_id, p_cron_secret);
  end if;

  v_url := regexp_replace(p_app_base_url, '/+$', '') || '/api/cron/resume';
  -- cron.schedule with an existing job name replaces that job.
  perform cron.schedule('mailout-resume', p_schedule, format('select public.mailout_resume_tick(%L)', v_url));
  return format('pg_cron job mailout-resume (%s) calls %s when a mailout waits', p_schedule, v_url);
end;
$function$;

comment on function schedule_mailout_resume(text,text,text) is
  'Install the pg_cron job mailout-resume (secret in Vault); refuses (MR002) without pg_cron, pg_net and Vault.';

CREATE OR REPLACE FUNCTION public.send_trip(p_mailout_id text, p_lease_token uuid, p_lease_seconds integer, p_marks uuid[], p_result_ids uuid[], p_result_statuses text[], p_result_message_ids text[], p_result_error_codes text[], p_result_error_messages text[])
 RETURNS TABLE(lease_live boolean, marked uuid[], skipped uuid[], recorded integer, requeued integer)
 LANGUAGE plpgsql
 SET search_path TO 'public', 'pg_temp'
AS $function$
#variable_conflict use_column
declare
  v_results integer := coalesce(cardinality(p_result_ids), 0);
  v_live    boolean := false;
  v_marked  uuid[];
  v_skipped uuid[];
  v_recorded integer;
  v_requeued integer;
begin
  if p_marks is null or p_result_ids is null then
    raise exception 'send_trip: marks and result ids are required (empty arrays for none)' using errcode = '22023';
  end if;
  if p_lease_seconds is null or p_lease_seconds < 1 or p_lease_seconds > 86400 then
    raise exception 'send_trip: lease seconds must be between 1 and 86400' using errcode = '22023';
  end if;
  if coalesce(cardinality(p_result_statuses), 0) <> v_results or coalesce(cardinality(p_result_message_ids), 0) <> v_results
     or coalesce(cardinality(p_result_error_codes), 0) <> v_results or coalesce(cardinality(p_result_error_messages), 0) <> v_results then
    raise exception 'send_trip: every result array must hold one entry per result id' using errcode = '22023';
  end if;
  if exists (select 1 from unnest(p_result_ids, p_result_statuses) as r(id, status)
              where r.id is null or r.status is null or r.status not in ('sent', 'failed', 'unknown', 'queued'))
     or array_position(p_marks, null) is not null then
    raise exception 'send_trip: each result needs a subscriber id and a status of sent, failed, unknown or queued; marks need ids'
      using errcode = '22023';
  end if;

  if cardinality(p_marks) > 0 then
    update public.mailouts
       set lease_until = greatest(lease_until, now() + make_interval(secs => p_lease_seconds))
     where id = p_mailout_id and lease_token = p_lease_token and status = 'sending' and lease_until > now();
    v_live := found;
  end if;
  if not v_live then
    perform 1 from public.mailouts where id = p_mailout_id for update;
  end if;

  -- One statement: the outcomes and, under a live lease, the marks. A row is either an
  -- outcome or a mark (the caller marks a row once and records it after); should one id come
  -- as both, one of them applies and the other reports nothing (a mark answered `lost`).
  -- Materialized: the join below may read it once per delivery row, and the subscribers are
  -- then looked up once per mark, not once per mark and row.
  with src as materialized (
    select r.id, false as mark, r.status, r.message_id, r.error_code, left(r.error_message, 2000) as error_message,
           null::text as left_as
      from unnest(p_result_ids, p_result_statuses, p_result_message_ids, p_result_error_codes, p_result_error_messages)
           as r(id, status, message_id, error_code, error_message)
    union all
    select m.id, true, null, null, null, null, nullif(coalesce(s.status, 'deleted'), 'active')
      from unnest(p_marks) as m(id)
      left join public.subscribers s on s.id = m.id
     where v_live
  ),
  changed as (
    update public.deliveries d
       set status = case when not src.mark then src.status
                         when src.left_as is null then d.status
                         else 'skipped' end,
           attempted_at = case when src.mark and src.left_as is null then now()
                               when src.status = 'queued' then null
                               else d.attempted_at end,
           claimed_by = case when src.status = 'queued' then null else d.claimed_by end,
           attempts = case when src.status = 'queued' then greatest(d.attempts - 1, 0) else d.attempts end,
           ses_message_id = case when src.status in ('sent', 'failed', 'unknown') then coalesce(src.message_id, d.ses_message_id)
                                 else d.ses_message_id end,
           error_code = case when src.status in ('sent', 'failed', 'unknown') then src.error_code
                             when src.left_as is not null then 'subscriber_' || src.left_as
                             else d.error_code end,
           error_message = case when src.status in ('sent', 'failed', 'unknown') then src.error_message
                                when src.left_as is not null then 'the subscriber left the list after the mailout was claimed'
                                else d.error_message end,
           updated_at = case when src.mark and src.left_as is null then d.updated_at else now() end
      from src
     where d.mailout_id = p_mailout_id
       -- Through the primary key, one probe per id: the join alone is planned as a scan of the
       -- mailout's `sending` rows, whose index holds every row sent so far until a vacuum.
       and d.subscriber_id = any (p_result_ids || p_marks)
       and d.subscriber_id = src.id
       and d.claimed_by = p_lease_token
       and d.status = 'sending'
       and (not src.mark or d.attempted_at is null)
    returning d.subscriber_id, src.mark, d.status
  )
  select coalesce(array_agg(c.subscriber_id) filter (where c.mark and c.status = 'sending'), '{}'),
         coalesce(array_agg(c.subscriber_id) filter (where c.mark and c.status = 'skipped'), '{}'),
         count(*) filter (where not c.mark and c.status <> 'queued'),
         count(*) filter (where not c.mark and c.status = 'queued')
    into v_marked, v_skipped, v_recorded, v_requeued
    from changed c;

  return query select v_live, v_marked, v_skipped, v_recorded, v_requeued;
end;
$function$;

comment on function send_trip(text,uuid,integer,uuid[],uuid[],text[],text[],text[],text[]) is
  'One transaction per group of messages: record the outcomes (only rows still sending under this lease; queued hands a row back), then, while the lease is live (extending it), mark the next messages (skipped when the subscriber left); answers the marks and the counts written.';

CREATE OR REPLACE FUNCTION public.unknown_never_reported(p_mailout_id text, p_after uuid DEFAULT NULL::uuid, p_limit integer DEFAULT 1000)
 RETURNS TABLE(subscriber_id uuid, email text, error_code text, updated_at timestamp with time zone)
 LANGUAGE sql
 STABLE
 SET search_path TO 'public', 'pg_temp'
AS $function$
  select d.subscriber_id, d.email, d.error_code, d.updated_at
    from public.deliveries d
   where d.mailout_id = p_mailout_id and d.status = 'unknown'
     and (p_after is null or d.subscriber_id > p_after)
     and private.never_reported(d)
   order by d.subscriber_id
   limit least(greatest(coalesce(p_limit, 1000), 1), 1000);
$function$;

comment on function unknown_never_reported(text,uuid,integer) is
  'The unknown rows of a mailout that SES never reported and that were never resent, in keyset pages (subscriber id after p_after).';

CREATE OR REPLACE FUNCTION public.unschedule_mailout_resume()
 RETURNS boolean
 LANGUAGE plpgsql
 SET search_path TO 'public', 'pg_temp'
AS $function$
declare
  v_found boolean := false;
begin
  if to_regclass('cron.job') is not null and exists (select 1 from cron.job where jobname = 'mailout-resume') then
    perform cron.unschedule('mailout-resume');
    v_found := true;
  end if;
  if to_regclass('vault.secrets') is not null then
    delete from vault.secrets where name = 'mailout_cron_secret';
  end if;
  return v_found;
end;
$function$;

comment on function unschedule_mailout_resume() is
  'Remove the pg_cron job mailout-resume and its Vault secret; false when there was no job.';

CREATE OR REPLACE FUNCTION public.unsubscribe(p_subscriber_id uuid)
 RETURNS TABLE(subscriber_id uuid, email text, status text, changed boolean)
 LANGUAGE plpgsql
 SET search_path TO 'public', 'pg_temp'
AS $function$
#variable_conflict use_column
begin
  return query
    update public.subscribers s
       set status = 'unsubscribed', status_updated_at = now()
     where s.id = p_subscriber_id and s.status = 'active'
    returning s.id, s.email, s.status, true;
  if not found then
    return query select s.id, s.email, s.status, false
                   from public.subscribers s where s.id = p_subscriber_id;
  end if;
end;
$function$;

comment on function unsubscribe(uuid) is
  'active -> unsubscribed; idempotent.';
