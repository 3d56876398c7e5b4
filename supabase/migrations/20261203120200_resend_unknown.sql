-- A way to reach those who got nothing (issue 26, item 4): npm run resend-unknown.
--
-- A row stays `unknown` when its send's answer was lost and SES never reported the message
-- (no Send, Delivery, Bounce or Complaint event, which would have settled it: 20261203120100).
-- Once a finished mailout has been quiet for a while (no SES event and no send for
-- p_quiet_minutes), such a row almost surely never reached SES. Queuing it again is an
-- explicit decision of the operator: each row at most once (resent_at), through the normal
-- paced, lease-guarded send, and never again after that whatever its outcome.

create index deliveries_unknown_idx on public.deliveries (mailout_id, subscriber_id) where status = 'unknown';

create function private.never_reported(p_row public.deliveries)
returns boolean
language sql
stable
set search_path = public, pg_temp
as $$
  select p_row.status = 'unknown' and p_row.resent_at is null and p_row.ses_message_id is null
     and not exists (select 1 from public.ses_events e
                      where e.mailout_id = p_row.mailout_id and e.subscriber_id = p_row.subscriber_id);
$$;
comment on function private.never_reported(public.deliveries) is
  'An unknown delivery SES never reported (no event names it, no message id) and not resent before: resend-unknown may queue it once.';
-- Called by the functions below as their caller (service_role), so that role may use it.
revoke execute on function private.never_reported(public.deliveries) from public, anon, authenticated;
grant usage on schema private to service_role;
grant execute on function private.never_reported(public.deliveries) to service_role;

create function public.resend_window(p_mailout_id text, p_quiet_minutes integer)
returns table (found boolean, status text, last_activity_at timestamptz, quiet_until timestamptz, ready boolean, never_reported integer)
language sql
stable
set search_path = public, pg_temp
as $$
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
$$;
comment on function public.resend_window(text, integer) is
  'Whether a mailout may have its never-reported unknown rows resent: finished (sent) and quiet (no SES event, no change) for p_quiet_minutes.';
revoke execute on function public.resend_window(text, integer) from public, anon, authenticated;
grant execute on function public.resend_window(text, integer) to service_role;

create function public.unknown_never_reported(p_mailout_id text, p_after uuid default null, p_limit integer default 1000)
returns table (subscriber_id uuid, email text, error_code text, updated_at timestamptz)
language sql
stable
set search_path = public, pg_temp
as $$
  select d.subscriber_id, d.email, d.error_code, d.updated_at
    from public.deliveries d
   where d.mailout_id = p_mailout_id and d.status = 'unknown'
     and (p_after is null or d.subscriber_id > p_after)
     and private.never_reported(d)
   order by d.subscriber_id
   limit least(greatest(coalesce(p_limit, 1000), 1), 1000);
$$;
comment on function public.unknown_never_reported(text, uuid, integer) is
  'The unknown rows of a mailout that SES never reported and that were never resent, in keyset pages (subscriber id after p_after).';
revoke execute on function public.unknown_never_reported(text, uuid, integer) from public, anon, authenticated;
grant execute on function public.unknown_never_reported(text, uuid, integer) to service_role;

create function public.requeue_unknown(p_mailout_id text, p_quiet_minutes integer)
returns table (outcome text, requeued integer)
language plpgsql
set search_path = public, pg_temp
as $$
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
$$;
comment on function public.requeue_unknown(text, integer) is
  'Queue once more the unknown rows of a finished, quiet mailout that SES never reported (each row at most once); the mailout becomes paused for the resume.';
revoke execute on function public.requeue_unknown(text, integer) from public, anon, authenticated;
grant execute on function public.requeue_unknown(text, integer) to service_role;
