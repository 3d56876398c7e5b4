-- The chunked claim (20261203130000) and the ledger's counters (20261203120100), together.
--
-- 1. A recipient copied on write (an unsubscribe, bounce or delete during an unfinished copy)
--    now locks the mailout's row before inserting its delivery. The counters' trigger updates
--    that row in the same transaction anyway; taking it first means the subscriber's
--    transaction never holds an uncommitted delivery that claim_batch's chunk copy (which
--    holds the mailout's row) would wait on, so the two cannot deadlock: the change waits
--    for the copy (well under a second), then finds its recipient copied or copies it.
-- 2. While the copy is not done, `recipients` (the ledger's rows) is short of the recipients
--    fixed at the claim: the readers and finish_mailout answer the claim's number, and count
--    the recipients not copied yet as queued. A mailout is never complete before its copy is.

create or replace function private.subscribers_status_change()
returns trigger
language plpgsql
set search_path = public, pg_temp
as $$
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
$$;
comment on function private.subscribers_status_change() is
  'Trigger: a status change is stamped by the clock; a recipient of an unfinished copy is copied first (its mailout locked first).';

-- The recipients of a mailout not copied into the ledger yet (0 once the copy is done).
create or replace function private.uncopied_recipients(m public.mailouts)
returns integer
language sql
immutable
set search_path = public, pg_temp
as $$
  select case when m.snapshot_done then 0 else greatest(coalesce(m.claimed_recipients, 0) - m.recipients, 0) end;
$$;
comment on function private.uncopied_recipients(public.mailouts) is
  'Recipients fixed at the claim and not yet copied into deliveries (chunked claim).';
revoke all on function private.uncopied_recipients(public.mailouts) from public, anon, authenticated;
grant execute on function private.uncopied_recipients(public.mailouts) to service_role;

create or replace function public.mailout_counts(p_mailout_id text)
returns table (recipients integer, queued integer, sending integer, sent integer, failed integer, skipped integer, unknown integer)
language sql
stable
set search_path = public, pg_temp
as $$
  select m.recipients + private.uncopied_recipients(m), m.queued + private.uncopied_recipients(m),
         m.sending, m.sent, m.failed, m.skipped, m.unknown
    from public.mailouts m where m.id = p_mailout_id
  union all
  select 0, 0, 0, 0, 0, 0, 0
   where not exists (select 1 from public.mailouts m where m.id = p_mailout_id);
$$;
comment on function public.mailout_counts(text) is
  'Per-status delivery counts of a mailout (its counters; recipients not copied yet count as queued).';

create or replace function public.mailout_pending_count(p_mailout_id text)
returns table (claimed boolean, status text, pending integer)
language sql
stable
set search_path = public, pg_temp
as $$
  select true, m.status, m.queued + private.uncopied_recipients(m)
    from public.mailouts m where m.id = p_mailout_id
  union all
  select false, null::text, (select count(*)::integer from public.subscribers s where s.status = 'active')
   where not exists (select 1 from public.mailouts m where m.id = p_mailout_id);
$$;
comment on function public.mailout_pending_count(text) is
  'Messages a send of this mailout would need now: queued deliveries and recipients not copied yet, or active subscribers when unclaimed (one row).';

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
$$;
comment on function public.finish_mailout(text, uuid, text, text) is
  'End the lease holder''s turn: complete (sent/failed, only once every recipient is copied and settled), paused, failed, or released for a fresh invocation.';
