-- The report CSV is read in keyset pages instead of one answer. PostgREST caps every answer,
-- RPC included, at db-max-rows (1,000 on Supabase) and says nothing but `Content-Range:
-- 0-999/*`, so the single call of mailout_report lost every row after the 1,000th; and one
-- answer of a large mailout is larger than a function may buffer on Vercel (4.5 MB).
--
-- Order: failures first, as before (failed, unknown, skipped, queued, sending, sent), then by
-- subscriber id within each status, so that a page continues after the last row of the
-- previous one through an index. Each status group is read through an index that holds it:
-- the partial index below for the rare failed / unknown / skipped rows, deliveries_queued_idx
-- and deliveries_sending_idx for queued and sending, the primary key for sent. The send path
-- pays nothing for it: a row enters the new index only when it becomes failed, unknown or
-- skipped.

drop function if exists public.mailout_report(text);

create index deliveries_report_unsent_idx on public.deliveries (mailout_id, status, subscriber_id)
  where status in ('failed', 'unknown', 'skipped');

-- ---------------------------------------------------------------------------------------
-- mailout_report_page: up to p_limit rows of a mailout's report after the row
-- (p_after_status, p_after_subscriber), or from the start when both are null; an empty page
-- is the end. Each row carries the SES feedback of its message (null while none arrived).
-- ---------------------------------------------------------------------------------------
create function public.mailout_report_page(
  p_mailout_id text,
  p_after_status text default null,
  p_after_subscriber uuid default null,
  p_limit integer default 1000
)
returns table (
  subscriber_id uuid, email text, status text, feedback text, error_code text, error_message text,
  ses_message_id text, attempts integer, updated_at timestamptz
)
language plpgsql
stable
set search_path = public, pg_temp
as $$
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
$$;
comment on function public.mailout_report_page(text, text, uuid, integer) is
  'One keyset page of a mailout''s per-recipient report, failures first, then by subscriber id; an empty page is the end.';

revoke execute on function public.mailout_report_page(text, text, uuid, integer) from public, anon, authenticated;
grant execute on function public.mailout_report_page(text, text, uuid, integer) to service_role;
