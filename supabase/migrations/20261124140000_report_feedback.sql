-- The report CSV also says what SES told us after the send: for each recipient, the worst
-- feedback received for its message (complaint > hard bounce > soft bounce > delivered).
-- The return type changes, so the function is dropped and created again.

drop function if exists public.mailout_report(text);

-- ---------------------------------------------------------------------------------------
-- mailout_report: the per-recipient ledger of a mailout for the CSV, failures first, with
-- the SES feedback of each sent message (null while none has arrived).
-- ---------------------------------------------------------------------------------------
create function public.mailout_report(p_mailout_id text)
returns table (
  email text, status text, feedback text, error_code text, error_message text,
  ses_message_id text, attempts integer, updated_at timestamptz
)
language sql
stable
set search_path = public, pg_temp
as $$
  select d.email, d.status, fb.feedback, d.error_code, d.error_message, d.ses_message_id, d.attempts, d.updated_at
    from public.deliveries d
    left join lateral (
      select case
               when bool_or(e.event_type = 'Complaint') then 'complaint'
               when bool_or(e.event_type = 'Bounce' and e.bounce_class = 'hard') then 'hard_bounce'
               when bool_or(e.event_type = 'Bounce') then 'soft_bounce'
               when bool_or(e.event_type = 'Delivery') then 'delivered'
             end as feedback
        from public.ses_events e
       where e.ses_message_id = d.ses_message_id
    ) fb on d.ses_message_id is not null
   where d.mailout_id = p_mailout_id
   order by case d.status
              when 'failed' then 0 when 'unknown' then 1 when 'skipped' then 2
              when 'queued' then 3 when 'sending' then 4 else 5
            end,
            lower(d.email);
$$;
comment on function public.mailout_report(text) is
  'Per-recipient outcomes of a mailout, failures first, with the worst SES feedback of each message.';

revoke execute on function public.mailout_report(text) from public, anon, authenticated;
grant execute on function public.mailout_report(text) to service_role;
