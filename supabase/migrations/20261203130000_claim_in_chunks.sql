-- A claim at any list size. claim_mailout copied every active subscriber into the ledger in
-- one statement (16.7 s for 1M here), beyond Supabase's 8 s statement timeout for
-- service_role. Now the claim fixes *who* the recipients are at one instant and copies them in
-- keyset chunks of 2,000 (private.snapshot_recipients): the first chunk in the claim itself
-- (a list of up to 2,000 is copied whole, as before), the rest by claim_batch whenever the
-- copied queue runs dry. Every statement stays well under a second at 1M subscribers.
--
-- The recipients are exactly the subscribers active at the claim, however long the copy takes:
--   * a subscriber changed since the claim carries a newer status_updated_at (set by the
--     clock, below), so the chunks leave out whoever joined or came back after the claim;
--   * whoever was a recipient and changes (unsubscribes, bounces, is deleted) before their
--     chunk is copied is copied at that moment, by a trigger (copy on write), and then
--     skipped by claim_batch as before ("whoever left the list since is skipped");
--   * claim_mailout locks the subscribers in SHARE mode for its instant: changes under way
--     commit before it, changes that come later stamp a later time.
-- mailouts.recipients is still the number of active subscribers at the claim, which is the
-- number of rows the ledger holds once the copy is done.

-- ---------------------------------------------------------------------------------------
-- 1. The copy's state on each mailout.
-- ---------------------------------------------------------------------------------------
alter table public.mailouts
  add column snapshot_at   timestamptz,
  add column snapshot_from uuid,
  add column snapshot_done boolean not null default true,
  add column claimed_recipients integer;
comment on column public.mailouts.snapshot_at is
  'The instant of the claim: the recipients are the subscribers active then.';
comment on column public.mailouts.snapshot_from is
  'The next chunk of the copy starts at this subscriber id (inclusive: the last one copied).';
comment on column public.mailouts.snapshot_done is
  'Every recipient is in deliveries (mailouts claimed before chunked copies were copied whole).';
comment on column public.mailouts.claimed_recipients is
  'The number of recipients fixed at the claim (recipients is recounted from deliveries by finish_mailout, short while the copy is not done).';
create index mailouts_snapshot_pending_idx on public.mailouts (id) where not snapshot_done;

-- ---------------------------------------------------------------------------------------
-- 2. status_updated_at by the clock, not the transaction's start: a change that waited for
-- the claim's lock is stamped after the claim. New rows take the same clock.
-- ---------------------------------------------------------------------------------------
alter table public.subscribers alter column status_updated_at set default clock_timestamp();

create schema if not exists private;
revoke all on schema private from public, anon, authenticated;
grant usage on schema private to service_role;

create or replace function private.subscribers_status_change()
returns trigger
language plpgsql
set search_path = public, pg_temp
as $$
begin
  -- A recipient of a claim whose copy is not done yet, unchanged since that claim: copy them
  -- now, before the change hides them from the chunks. (A plain read of mailouts: taking its
  -- row lock here could deadlock with claim_batch, which holds it while it copies.)
  if old.status = 'active' then
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
$$;
comment on function private.subscribers_status_change() is
  'Trigger: a status change is stamped by the clock; a recipient of an unfinished copy is copied first.';
create trigger subscribers_status_change
  before update of status on public.subscribers
  for each row when (old.status is distinct from new.status)
  execute function private.subscribers_status_change();
create trigger subscribers_deleted
  before delete on public.subscribers
  for each row when (old.status = 'active')
  execute function private.subscribers_status_change();

-- ---------------------------------------------------------------------------------------
-- 3. One chunk of the copy.
-- ---------------------------------------------------------------------------------------
create or replace function private.snapshot_recipients(p_mailout_id text, p_limit integer default 2000)
returns boolean
language plpgsql
set search_path = public, pg_temp
as $$
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
$$;
comment on function private.snapshot_recipients(text, integer) is
  'Copy the next chunk of a claim''s recipients into deliveries (keyset on subscriber id); true once all are copied.';
revoke all on function private.snapshot_recipients(text, integer) from public, anon, authenticated;
grant execute on function private.snapshot_recipients(text, integer) to service_role;

-- ---------------------------------------------------------------------------------------
-- 4. claim_mailout: the instant, the count, the first chunk. A resume of an unfinished copy
-- counts the recipients not copied yet as queued, and puts back the claim's count of
-- recipients (finish_mailout recounts them from the rows copied so far).
-- ---------------------------------------------------------------------------------------
create or replace function public.claim_mailout(p_mailout_id text, p_subject text DEFAULT NULL::text, p_lease_seconds integer DEFAULT 120, p_content jsonb DEFAULT NULL::jsonb)
 RETURNS TABLE(outcome text, mailout_id text, status text, lease_token uuid, lease_until timestamp with time zone, recipients integer, queued integer, unknown integer, last_error text, content jsonb)
 LANGUAGE plpgsql
 SET search_path TO 'public', 'pg_temp'
AS $function$
#variable_conflict use_column
declare
  v_token      uuid := gen_random_uuid();
  v_until      timestamptz;
  v_count      integer;
  v_copied     integer;
  v_stale      integer;
  v_reason     text := 'No letter is stored for this mailout and none was given: nothing was claimed. Send it from its Notion page.';
  m            public.mailouts%rowtype;
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
      update public.mailouts set recipients = v_count, claimed_recipients = v_count where id = p_mailout_id;
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
                        m.recipients,
                        (select count(*)::integer from public.deliveries d
                          where d.mailout_id = m.id and d.status = 'queued'),
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
  get diagnostics v_stale = row_count;

  if m.snapshot_done then
    select count(*)::integer into v_count
      from public.deliveries where mailout_id = p_mailout_id and status = 'queued';
  else
    select count(*) filter (where status = 'queued')::integer, count(*)::integer into v_count, v_copied
      from public.deliveries where mailout_id = p_mailout_id;
    v_count := v_count + greatest(m.claimed_recipients - v_copied, 0);
    m.recipients := m.claimed_recipients;
  end if;

  update public.mailouts
     set status = 'sending',
         subject = coalesce(subject, p_subject),
         -- The letter fixed at the first claim wins: everyone gets the same one.
         content = coalesce(content, p_content),
         lease_token = v_token,
         lease_until = v_until,
         unknown = unknown + v_stale,
         recipients = m.recipients,
         last_error = null,
         updated_at = now()
   where id = p_mailout_id;

  return query select 'resumed'::text, m.id, 'sending'::text, v_token, v_until,
                      m.recipients, v_count, m.unknown + v_stale, m.last_error, coalesce(m.content, p_content);
end;
$function$;

comment on function public.claim_mailout(text, text, integer, jsonb) is
  'Claim (or resume) a mailout for sending; exactly one concurrent caller wins; never without a letter. Fixes the recipients (active now) and copies the first chunk.';

-- ---------------------------------------------------------------------------------------
-- 5. claim_batch: copies the next chunk when the queue runs dry, and skips a recipient who
-- has since been deleted (such a row stayed queued for ever before).
-- ---------------------------------------------------------------------------------------
create or replace function public.claim_batch(p_mailout_id text, p_lease_token uuid, p_limit integer DEFAULT 50, p_lease_seconds integer DEFAULT 120)
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

comment on function public.claim_batch(text, uuid, integer, integer) is
  'Hand out the next queued deliveries (FOR UPDATE SKIP LOCKED), skipping inactive or deleted subscribers, copying the next chunk of recipients when the queue runs dry; extends the lease.';

-- ---------------------------------------------------------------------------------------
-- 6. mailout_pending_count (the pre-flight's quota check): the recipients not copied yet
-- are still to be sent.
-- ---------------------------------------------------------------------------------------
create or replace function public.mailout_pending_count(p_mailout_id text)
 RETURNS TABLE(claimed boolean, status text, pending integer)
 LANGUAGE sql
 STABLE
 SET search_path TO 'public', 'pg_temp'
AS $function$
  select true, m.status,
         (select count(*)::integer from public.deliveries d
           where d.mailout_id = m.id and d.status = 'queued')
         + case when m.snapshot_done then 0
                else greatest(m.claimed_recipients
                              - (select count(*)::integer from public.deliveries d where d.mailout_id = m.id), 0)
           end
    from public.mailouts m where m.id = p_mailout_id
  union all
  select false, null::text, (select count(*)::integer from public.subscribers s where s.status = 'active')
   where not exists (select 1 from public.mailouts m where m.id = p_mailout_id);
$function$;

comment on function public.mailout_pending_count(text) is
  'Messages a send of this mailout would need now: queued deliveries and recipients not copied yet, or active subscribers when unclaimed.';
