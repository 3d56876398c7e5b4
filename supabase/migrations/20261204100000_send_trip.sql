-- One round trip per group of messages (issue 24): send_trip records the outcomes SES gave
-- since the caller's last trip and marks the next messages, in one transaction.
--
-- Until now every message cost two calls, begin_sends (its mark) and record_results (its
-- outcome), each its own transaction of two statements on deliveries, each statement firing
-- the counting triggers. send_trip does both in ONE statement on deliveries (the outcomes and
-- the marks are the rows of one UPDATE ... FROM), so one firing of the counting trigger and one
-- commit carry a whole group. The rules are those of the two functions it joins:
--
-- - an outcome changes a row only while it is still `sending` under the caller's lease
--   (claimed_by), whatever became of the lease: once a takeover settled a row it is not ours;
-- - a mark is made only while the lease is live, and the trip then extends the lease to its
--   own start + p_lease_seconds (never shortening it): the caller's clock, which noted when it
--   sent the request, is never ahead of the lease;
-- - a mark applies only to a row this lease took and nobody attempted yet (attempted_at null);
--   a subscriber who left the list since the claim, or was deleted, is `skipped` instead;
-- - `queued` hands a row back (never sent): claimed_by and attempted_at cleared, the attempt
--   not counted, so that a row marked ahead and never sent goes back to the queue, not to
--   `unknown`.
--
-- The mailout's row is taken first, as by every function that changes deliveries (its
-- counters live there): one lock order, no deadlock with a takeover.

create function public.send_trip(
  p_mailout_id text,
  p_lease_token uuid,
  p_lease_seconds integer,
  p_marks uuid[],
  p_result_ids uuid[],
  p_result_statuses text[],
  p_result_message_ids text[],
  p_result_error_codes text[],
  p_result_error_messages text[]
)
returns table (lease_live boolean, marked uuid[], skipped uuid[], recorded integer, requeued integer)
language plpgsql
set search_path = public, pg_temp
as $$
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
$$;

comment on function public.send_trip(text, uuid, integer, uuid[], uuid[], text[], text[], text[], text[]) is
  'One transaction per group of messages: record the outcomes (only rows still sending under this lease; queued hands a row back), then, while the lease is live (extending it), mark the next messages (skipped when the subscriber left); answers the marks and the counts written.';

revoke execute on function public.send_trip(text, uuid, integer, uuid[], uuid[], text[], text[], text[], text[]) from public, anon, authenticated;
grant execute on function public.send_trip(text, uuid, integer, uuid[], uuid[], text[], text[], text[], text[]) to service_role;
