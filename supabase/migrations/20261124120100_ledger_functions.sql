-- The atomic state changes of a mailout, one SQL function each.
--
-- The "never twice" promise lives here and nowhere else, so that it is the same whether the
-- executor reaches the database through supabase-js (PostgREST rpc) or a direct connection.
-- Every function returns a table, so both adapters see a list of rows.
--
-- Errors raised on purpose carry their own SQLSTATE:
--   ML001  the caller's lease on the mailout is gone (expired and resumed elsewhere, or paused)
--   ML002  the mailout still has deliveries that are not finished
--   22023  an argument is invalid

-- ---------------------------------------------------------------------------------------
-- claim_mailout: take the mailout for sending.
--   new id                         -> row inserted as `sending` with a lease, every active
--                                     subscriber snapshotted into deliveries as `queued`
--                                     (one transaction): outcome `claimed`
--   `paused`, `failed`, or `sending` with an expired lease
--                                  -> new lease; deliveries the dead invocation took but never
--                                     attempted go back to `queued`, those it was sending become
--                                     `unknown` (never retried): `resumed`
--   `sent`                         -> nothing changes: `already_sent`
--   `sending` with a live lease    -> nothing changes: `in_progress`
-- Concurrent callers for one id serialise on the primary key and then on the row lock, so
-- exactly one of them claims; the others get a refusal outcome, not an error.
-- ---------------------------------------------------------------------------------------
create or replace function public.claim_mailout(
  p_mailout_id    text,
  p_subject       text default null,
  p_lease_seconds integer default 120,
  p_content       jsonb default null
)
returns table (
  outcome      text,
  mailout_id   text,
  status       text,
  lease_token  uuid,
  lease_until  timestamptz,
  recipients   integer,
  queued       integer,
  unknown      integer,
  last_error   text,
  content      jsonb
)
language plpgsql
volatile
set search_path = public, pg_temp
as $$
#variable_conflict use_column
declare
  v_token      uuid := gen_random_uuid();
  v_until      timestamptz;
  v_count      integer;
  v_stale      integer;
  m            public.mailouts%rowtype;
begin
  if p_mailout_id is null or length(btrim(p_mailout_id)) = 0 then
    raise exception 'claim_mailout: mailout id is required' using errcode = '22023';
  end if;
  if p_lease_seconds is null or p_lease_seconds < 1 or p_lease_seconds > 86400 then
    raise exception 'claim_mailout: lease seconds must be between 1 and 86400' using errcode = '22023';
  end if;
  v_until := now() + make_interval(secs => p_lease_seconds);

  insert into public.mailouts (id, subject, status, lease_token, lease_until, started_at, content)
  values (p_mailout_id, p_subject, 'sending', v_token, v_until, now(), p_content)
  on conflict (id) do nothing;

  if found then
    insert into public.deliveries (mailout_id, subscriber_id, email)
    select p_mailout_id, s.id, s.email
      from public.subscribers s
     where s.status = 'active';
    get diagnostics v_count = row_count;
    update public.mailouts set recipients = v_count where id = p_mailout_id;
    return query select 'claimed'::text, p_mailout_id, 'sending'::text, v_token, v_until,
                        v_count, v_count, 0, null::text, p_content;
    return;
  end if;

  select * into m from public.mailouts where id = p_mailout_id for update;

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

  select count(*)::integer into v_count
    from public.deliveries where mailout_id = p_mailout_id and status = 'queued';

  update public.mailouts
     set status = 'sending',
         subject = coalesce(subject, p_subject),
         -- The letter fixed at the first claim wins: everyone gets the same one.
         content = coalesce(content, p_content),
         lease_token = v_token,
         lease_until = v_until,
         unknown = unknown + v_stale,
         last_error = null,
         updated_at = now()
   where id = p_mailout_id;

  return query select 'resumed'::text, m.id, 'sending'::text, v_token, v_until,
                      m.recipients, v_count, m.unknown + v_stale, m.last_error, coalesce(m.content, p_content);
end;
$$;
comment on function public.claim_mailout(text, text, integer, jsonb) is
  'Claim (or resume) a mailout for sending; exactly one concurrent caller wins.';

-- ---------------------------------------------------------------------------------------
-- claim_batch: hand out up to p_limit queued deliveries of a mailout to the lease holder.
-- Rows are locked with SKIP LOCKED, so concurrent workers never take the same row. A row
-- whose subscriber is no longer active becomes `skipped` instead. Each call also extends
-- the lease (the worker's heartbeat). Returns no rows when nothing is left to hand out.
-- ---------------------------------------------------------------------------------------
create or replace function public.claim_batch(
  p_mailout_id    text,
  p_lease_token   uuid,
  p_limit         integer default 50,
  p_lease_seconds integer default 120
)
returns table (subscriber_id uuid, email text, from_name text)
language plpgsql
volatile
set search_path = public, pg_temp
as $$
#variable_conflict use_column
declare
  v_ids   uuid[];
  v_sent  integer;
begin
  if p_limit is null or p_limit < 1 or p_limit > 10000 then
    raise exception 'claim_batch: limit must be between 1 and 10000' using errcode = '22023';
  end if;

  update public.mailouts
     set lease_until = greatest(lease_until, now() + make_interval(secs => p_lease_seconds)),
         updated_at = now()
   where id = p_mailout_id
     and lease_token = p_lease_token
     and status = 'sending'
     and lease_until > now();
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
    exit when v_ids is null;

    update public.deliveries d
       set status = 'skipped',
           error_code = 'subscriber_' || s.status,
           error_message = 'the subscriber left the list after the mailout was claimed',
           updated_at = now()
      from public.subscribers s
     where d.mailout_id = p_mailout_id
       and d.subscriber_id = any (v_ids)
       and s.id = d.subscriber_id
       and s.status <> 'active';

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
      returning d.subscriber_id, d.email, s.from_name;
    get diagnostics v_sent = row_count;
    exit when v_sent > 0;
  end loop;
end;
$$;
comment on function public.claim_batch(text, uuid, integer, integer) is
  'Hand out the next queued deliveries (FOR UPDATE SKIP LOCKED), skipping inactive subscribers; extends the lease.';

-- ---------------------------------------------------------------------------------------
-- begin_send: the worker is about to hand this one message to SES. Marks the attempt, so
-- that a crash from here on leaves the row `unknown` (never retried) rather than queued.
-- Returns 'send' to go ahead, 'skip' when the subscriber left the list since the batch was
-- claimed (the row becomes `skipped`), or 'lost' when the row is no longer this lease's
-- (the mailout was resumed elsewhere): then it must not be sent.
-- ---------------------------------------------------------------------------------------
create or replace function public.begin_send(p_mailout_id text, p_lease_token uuid, p_subscriber_id uuid)
returns table (decision text)
language plpgsql
volatile
set search_path = public, pg_temp
as $$
declare
  v_status text;
begin
  select s.status into v_status
    from public.deliveries d
    join public.subscribers s on s.id = d.subscriber_id
   where d.mailout_id = p_mailout_id and d.subscriber_id = p_subscriber_id
     and d.claimed_by = p_lease_token and d.status = 'sending' and d.attempted_at is null
     for update of d;
  if not found then
    return query select 'lost'::text;
    return;
  end if;
  if v_status <> 'active' then
    update public.deliveries
       set status = 'skipped', error_code = 'subscriber_' || v_status,
           error_message = 'the subscriber left the list after the mailout was claimed', updated_at = now()
     where mailout_id = p_mailout_id and subscriber_id = p_subscriber_id;
    return query select 'skip'::text;
    return;
  end if;
  update public.deliveries set attempted_at = now()
   where mailout_id = p_mailout_id and subscriber_id = p_subscriber_id;
  return query select 'send'::text;
end;
$$;
comment on function public.begin_send(text, uuid, uuid) is
  'Mark one message as being handed to SES (or skip it, or refuse it to a lost lease).';

-- ---------------------------------------------------------------------------------------
-- record_results: the outcomes of one or more sends, recorded as SES answers. p_results is a JSON array of
--   {"subscriber_id", "status": "sent"|"failed"|"unknown"|"queued", "ses_message_id", "error_code", "error_message"}
-- `unknown`: the request may have reached SES (a timeout after it was written); never retried.
-- Only rows this lease token took are touched. `sent`/`failed` are recorded even after the
-- lease was lost (the row is then `unknown`): the truth of what reached SES is never dropped.
-- `queued` hands back a row that was taken but never sent, and only while it is `sending`.
-- ---------------------------------------------------------------------------------------
create or replace function public.record_results(
  p_mailout_id  text,
  p_lease_token uuid,
  p_results     jsonb
)
returns table (recorded integer, requeued integer)
language plpgsql
volatile
set search_path = public, pg_temp
as $$
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
     and d.status in ('sending', 'unknown');
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
  -- (A row handed back after begin_send was refused by SES before it was accepted: the
  -- caller only hands back what SES did not take.)
  get diagnostics v_requeued = row_count;

  return query select v_recorded, v_requeued;
end;
$$;
comment on function public.record_results(text, uuid, jsonb) is
  'Record the outcome of one batch of sends, or hand back rows that were never sent.';

-- ---------------------------------------------------------------------------------------
-- mailout_counts: the ledger's per-status counts of one mailout.
-- ---------------------------------------------------------------------------------------
create or replace function public.mailout_counts(p_mailout_id text)
returns table (
  recipients integer, queued integer, sending integer, sent integer,
  failed integer, skipped integer, unknown integer
)
language sql
stable
set search_path = public, pg_temp
as $$
  select count(*)::integer,
         count(*) filter (where status = 'queued')::integer,
         count(*) filter (where status = 'sending')::integer,
         count(*) filter (where status = 'sent')::integer,
         count(*) filter (where status = 'failed')::integer,
         count(*) filter (where status = 'skipped')::integer,
         count(*) filter (where status = 'unknown')::integer
    from public.deliveries
   where mailout_id = p_mailout_id;
$$;
comment on function public.mailout_counts(text) is 'Per-status delivery counts of a mailout.';

-- ---------------------------------------------------------------------------------------
-- finish_mailout: the lease holder ends its turn.
--   p_outcome 'complete' -> `sent` (or `failed` when nothing could be sent), sent_at set;
--                           refused with ML002 while deliveries are queued or sending
--   p_outcome 'paused'   -> `paused` with the reason (circuit breaker, auto-pause)
--   p_outcome 'failed'   -> `failed` with the reason
--   p_outcome 'released' -> stays `sending` with an expired lease, so the next invocation
--                           (self-call or cron) resumes at once (time budget reached)
-- The counts on the mailout row are refreshed from the ledger in every case.
-- ---------------------------------------------------------------------------------------
create or replace function public.finish_mailout(
  p_mailout_id  text,
  p_lease_token uuid,
  p_outcome     text,
  p_reason      text default null
)
returns table (
  mailout_id text, status text, recipients integer, sent integer, failed integer,
  skipped integer, unknown integer, queued integer, sent_at timestamptz, last_error text
)
language plpgsql
volatile
set search_path = public, pg_temp
as $$
#variable_conflict use_column
declare
  c       record;
  v_status text;
begin
  if p_outcome is null or p_outcome not in ('complete', 'paused', 'failed', 'released') then
    raise exception 'finish_mailout: outcome must be complete, paused, failed or released' using errcode = '22023';
  end if;

  perform 1 from public.mailouts m
   where m.id = p_mailout_id and m.lease_token = p_lease_token and m.status = 'sending'
   for update;
  if not found then
    raise exception 'finish_mailout: the lease on mailout % is gone', p_mailout_id using errcode = 'ML001';
  end if;

  select * into c from public.mailout_counts(p_mailout_id);

  if p_outcome = 'complete' then
    if c.queued > 0 or c.sending > 0 then
      raise exception 'finish_mailout: mailout % still has % queued and % sending deliveries',
        p_mailout_id, c.queued, c.sending using errcode = 'ML002';
    end if;
    v_status := case when c.sent = 0 and c.failed > 0 then 'failed' else 'sent' end;
  elsif p_outcome = 'released' then
    v_status := 'sending';
  else
    v_status := p_outcome;
  end if;

  update public.mailouts m
     set status = v_status,
         lease_until = case when p_outcome = 'released' then now() else null end,
         lease_token = case when p_outcome = 'released' then m.lease_token else null end,
         recipients = c.recipients,
         sent = c.sent,
         failed = c.failed,
         skipped = c.skipped,
         unknown = c.unknown,
         sent_at = case when v_status = 'sent' then now() else m.sent_at end,
         last_error = case
                        when p_outcome = 'complete' and v_status = 'failed'
                          then coalesce(p_reason, 'no recipient could be sent')
                        else p_reason
                      end,
         updated_at = now()
   where m.id = p_mailout_id;

  return query
    select m.id, m.status, m.recipients, m.sent, m.failed, m.skipped, m.unknown,
           c.queued, m.sent_at, m.last_error
      from public.mailouts m where m.id = p_mailout_id;
end;
$$;
comment on function public.finish_mailout(text, uuid, text, text) is
  'End the lease holder''s turn: complete (sent/failed), paused, failed, or released for a fresh invocation.';

-- ---------------------------------------------------------------------------------------
-- unsubscribe / resubscribe: the subscriber's own choice, idempotent.
--   unsubscribe: active -> unsubscribed (bounced stays bounced)
--   resubscribe: unsubscribed -> active only (a bounced address stays bounced)
-- `changed` says whether this call made the change.
-- ---------------------------------------------------------------------------------------
create or replace function public.unsubscribe(p_subscriber_id uuid)
returns table (subscriber_id uuid, email text, status text, changed boolean)
language plpgsql
volatile
set search_path = public, pg_temp
as $$
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
$$;
comment on function public.unsubscribe(uuid) is 'active -> unsubscribed; idempotent.';

create or replace function public.resubscribe(p_subscriber_id uuid)
returns table (subscriber_id uuid, email text, status text, changed boolean)
language plpgsql
volatile
set search_path = public, pg_temp
as $$
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
$$;
comment on function public.resubscribe(uuid) is 'unsubscribed -> active only; a bounced address stays bounced.';

-- ---------------------------------------------------------------------------------------
-- health_check: proves the database is reachable and the migrations are applied.
-- ---------------------------------------------------------------------------------------
create or replace function public.health_check()
returns table (ok boolean, checked_at timestamptz)
language sql
stable
set search_path = public, pg_temp
as $$
  select true, now();
$$;
comment on function public.health_check() is 'Liveness of the database for GET /api/health.';

-- ---------------------------------------------------------------------------------------
-- Only the executor (service_role) may call these. Postgres grants EXECUTE to PUBLIC by
-- default, and Supabase exposes `public` to the anon key.
-- ---------------------------------------------------------------------------------------
revoke execute on function public.claim_mailout(text, text, integer, jsonb) from public, anon, authenticated;
revoke execute on function public.claim_batch(text, uuid, integer, integer) from public, anon, authenticated;
revoke execute on function public.record_results(text, uuid, jsonb) from public, anon, authenticated;
revoke execute on function public.mailout_counts(text) from public, anon, authenticated;
revoke execute on function public.finish_mailout(text, uuid, text, text) from public, anon, authenticated;
revoke execute on function public.unsubscribe(uuid) from public, anon, authenticated;
revoke execute on function public.resubscribe(uuid) from public, anon, authenticated;
revoke execute on function public.health_check() from public, anon, authenticated;
revoke execute on function public.begin_send(text, uuid, uuid) from public, anon, authenticated;

grant execute on function public.claim_mailout(text, text, integer, jsonb) to service_role;
grant execute on function public.claim_batch(text, uuid, integer, integer) to service_role;
grant execute on function public.record_results(text, uuid, jsonb) to service_role;
grant execute on function public.mailout_counts(text) to service_role;
grant execute on function public.finish_mailout(text, uuid, text, text) to service_role;
grant execute on function public.unsubscribe(uuid) to service_role;
grant execute on function public.resubscribe(uuid) to service_role;
grant execute on function public.health_check() to service_role;
grant execute on function public.begin_send(text, uuid, uuid) to service_role;

-- Functions added by later migrations start closed too.
alter default privileges in schema public revoke execute on functions from public, anon, authenticated;
