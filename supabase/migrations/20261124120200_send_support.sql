-- What the send engine needs around the ledger: the pre-flight count, test sends, the
-- report, and the list of mailouts whose lease expired (for the cron safety net).

-- ---------------------------------------------------------------------------------------
-- mailout_pending_count: how many messages a send would need now, for the SES pre-flight
-- (run before the claim, so a refused pre-flight changes nothing): the queued deliveries of
-- a claimed mailout, or the active subscribers for one never claimed.
-- ---------------------------------------------------------------------------------------
create or replace function public.mailout_pending_count(p_mailout_id text)
returns table (claimed boolean, status text, pending integer)
language sql
stable
set search_path = public, pg_temp
as $$
  select true, m.status,
         (select count(*)::integer from public.deliveries d
           where d.mailout_id = m.id and d.status = 'queued')
    from public.mailouts m where m.id = p_mailout_id
  union all
  select false, null::text, (select count(*)::integer from public.subscribers s where s.status = 'active')
   where not exists (select 1 from public.mailouts m where m.id = p_mailout_id);
$$;
comment on function public.mailout_pending_count(text) is
  'Messages a send of this mailout would need now: queued deliveries, or active subscribers when unclaimed.';

-- ---------------------------------------------------------------------------------------
-- record_test_sends: test mode sends to TEST_EMAILS only, may repeat, and never touches the
-- live claim; each run's outcomes are kept here.
-- p_results: [{"email", "status": "sent"|"failed", "ses_message_id", "error_code", "error_message"}]
-- ---------------------------------------------------------------------------------------
create or replace function public.record_test_sends(p_mailout_id text, p_run_id uuid, p_results jsonb)
returns table (recorded integer)
language plpgsql
volatile
set search_path = public, pg_temp
as $$
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
$$;
comment on function public.record_test_sends(text, uuid, jsonb) is 'Record one test run''s outcomes.';

-- ---------------------------------------------------------------------------------------
-- mailout_report: the per-recipient ledger of a mailout for the CSV, failures first.
-- ---------------------------------------------------------------------------------------
create or replace function public.mailout_report(p_mailout_id text)
returns table (
  email text, status text, error_code text, error_message text,
  ses_message_id text, attempts integer, updated_at timestamptz
)
language sql
stable
set search_path = public, pg_temp
as $$
  select d.email, d.status, d.error_code, d.error_message, d.ses_message_id, d.attempts, d.updated_at
    from public.deliveries d
   where d.mailout_id = p_mailout_id
   order by case d.status
              when 'failed' then 0 when 'unknown' then 1 when 'skipped' then 2
              when 'queued' then 3 when 'sending' then 4 else 5
            end,
            lower(d.email);
$$;
comment on function public.mailout_report(text) is 'Per-recipient outcomes of a mailout, failures first.';

-- ---------------------------------------------------------------------------------------
-- get_mailout: the mailout row (without the stored letter), or nothing.
-- ---------------------------------------------------------------------------------------
create or replace function public.get_mailout(p_mailout_id text)
returns table (
  id text, subject text, status text, lease_until timestamptz, recipients integer, sent integer,
  failed integer, skipped integer, unknown integer, started_at timestamptz, sent_at timestamptz,
  last_error text
)
language sql
stable
set search_path = public, pg_temp
as $$
  select m.id, m.subject, m.status, m.lease_until, m.recipients, m.sent, m.failed, m.skipped,
         m.unknown, m.started_at, m.sent_at, m.last_error
    from public.mailouts m where m.id = p_mailout_id;
$$;
comment on function public.get_mailout(text) is 'One mailout''s status and counts.';

-- ---------------------------------------------------------------------------------------
-- mailouts_to_resume: `sending` mailouts whose lease has expired (a dead or finished-early
-- invocation): the cron resumes them. Paused and failed ones wait for a person.
-- ---------------------------------------------------------------------------------------
create or replace function public.mailouts_to_resume(p_limit integer default 10)
returns table (mailout_id text, lease_until timestamptz)
language sql
stable
set search_path = public, pg_temp
as $$
  select m.id, m.lease_until
    from public.mailouts m
   where m.status = 'sending' and m.lease_until <= now()
   order by m.lease_until
   limit greatest(p_limit, 0);
$$;
comment on function public.mailouts_to_resume(integer) is 'Mailouts left sending with an expired lease.';

revoke execute on function public.mailout_pending_count(text) from public, anon, authenticated;
revoke execute on function public.record_test_sends(text, uuid, jsonb) from public, anon, authenticated;
revoke execute on function public.mailout_report(text) from public, anon, authenticated;
revoke execute on function public.get_mailout(text) from public, anon, authenticated;
revoke execute on function public.mailouts_to_resume(integer) from public, anon, authenticated;

grant execute on function public.mailout_pending_count(text) to service_role;
grant execute on function public.record_test_sends(text, uuid, jsonb) to service_role;
grant execute on function public.mailout_report(text) to service_role;
grant execute on function public.get_mailout(text) to service_role;
grant execute on function public.mailouts_to_resume(integer) to service_role;
