-- A run sends only on a mark made while its lease was surely its own (issue 26, item 1).
--
-- begin_sends now checks the lease itself and extends it to now() + p_lease_seconds in the
-- same transaction as the marks: a mark committed means the lease holds at least until the
-- moment its request was sent plus the lease, so the sender can decide by its own clock,
-- however late the answer comes back, whether a send on that mark is still safe.
--
-- record_results changes only rows still `sending` under the caller's lease: a row that a
-- takeover (claim_mailout's resume) settled `unknown` is never changed by the run that lost
-- it. Whether SES accepted such a message is learned from SES's own events instead.

drop function public.begin_sends(text, uuid, uuid[]);
-- begin_sends decides for all its ids in two statements now, not one call per id.
drop function public.begin_send(text, uuid, uuid);

create function public.begin_sends(p_mailout_id text, p_lease_token uuid, p_subscriber_ids uuid[], p_lease_seconds integer default 120)
returns table (subscriber_id uuid, decision text)
language plpgsql
set search_path = public, pg_temp
as $$
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
$$;
comment on function public.begin_sends(text, uuid, uuid[], integer) is
  'Mark messages as handed to SES right before the SES call, while the lease is live (extending it to now() + p_lease_seconds): send, skip (left the list) or lost, per id in order.';
revoke execute on function public.begin_sends(text, uuid, uuid[], integer) from public, anon, authenticated;
grant execute on function public.begin_sends(text, uuid, uuid[], integer) to service_role;

create or replace function public.record_results(p_mailout_id text, p_lease_token uuid, p_results jsonb)
returns table (recorded integer, requeued integer)
language plpgsql
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
$$;
comment on function public.record_results(text, uuid, jsonb) is
  'Record the outcomes of sends as SES answers them, or hand back rows never sent; only rows still sending under this lease.';
