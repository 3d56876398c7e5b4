-- ---------------------------------------------------------------------------------------
-- The safety net that needs no Vercel Pro plan: Supabase's pg_cron runs a job every minute
-- that calls the deployment's GET /api/cron/resume through pg_net, with CRON_SECRET kept in
-- Supabase Vault, and only when there is work (a `sending` mailout whose lease expired, or
-- a Notion refresh held back by the throttle). A mailout whose continuation was lost is
-- then resumed within LEASE_SECONDS plus a minute; an idle list costs no function call.
-- Vercel Hobby allows one cron a day (vercel.json keeps a daily one as a last resort).
--
-- The migration itself needs no extension: plain Postgres (the embedded one, or any other)
-- applies it. `schedule_mailout_resume` installs the job (`npm run setup:cron`) and refuses,
-- naming what is missing, where pg_cron, pg_net or Vault are absent.
--
--   mailout_resume_due        is there anything for /api/cron/resume to do?
--   mailout_resume_tick       the job: calls the endpoint when due (pg_net, Vault secret)
--   schedule_mailout_resume   stores the secret in Vault and (re)schedules the job
--   unschedule_mailout_resume removes the job and the secret
--
-- Error codes: MR001 the Vault secret is missing; MR002 pg_cron / pg_net / Vault are absent.
-- Grants: service_role only, like every function here. The job runs as the role that
-- scheduled it (the database owner, through DATABASE_URL); Vault stays readable by the owner
-- alone, so no other role can have the secret sent anywhere.
-- ---------------------------------------------------------------------------------------

create or replace function public.mailout_resume_due()
returns boolean
language sql
stable
set search_path = public, pg_temp
as $$
  select exists (select 1 from public.mailouts_to_resume(1))
      or exists (select 1 from public.notion_refresh where pending);
$$;
comment on function public.mailout_resume_due() is
  'True when /api/cron/resume has work: an expired-lease sending mailout, or a pending Notion refresh.';

create or replace function public.mailout_resume_tick(p_url text)
returns bigint
language plpgsql
volatile
set search_path = public, pg_temp
as $$
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
$$;
comment on function public.mailout_resume_tick(text) is
  'The pg_cron job: GET p_url (…/api/cron/resume) with the Vault CRON_SECRET when mailout_resume_due(). Returns the pg_net request id, or null.';

create or replace function public.schedule_mailout_resume(
  p_app_base_url text,
  p_cron_secret  text,
  p_schedule     text default '* * * * *'
)
returns text
language plpgsql
volatile
set search_path = public, pg_temp
as $$
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
$$;
comment on function public.schedule_mailout_resume(text, text, text) is
  'Install the pg_cron job mailout-resume (secret in Vault); refuses (MR002) without pg_cron, pg_net and Vault.';

create or replace function public.unschedule_mailout_resume()
returns boolean
language plpgsql
volatile
set search_path = public, pg_temp
as $$
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
$$;
comment on function public.unschedule_mailout_resume() is 'Remove the pg_cron job mailout-resume and its Vault secret; false when there was no job.';

revoke execute on function public.mailout_resume_due() from public, anon, authenticated;
revoke execute on function public.mailout_resume_tick(text) from public, anon, authenticated;
revoke execute on function public.schedule_mailout_resume(text, text, text) from public, anon, authenticated;
revoke execute on function public.unschedule_mailout_resume() from public, anon, authenticated;

grant execute on function public.mailout_resume_due() to service_role;
grant execute on function public.mailout_resume_tick(text) to service_role;
grant execute on function public.schedule_mailout_resume(text, text, text) to service_role;
grant execute on function public.unschedule_mailout_resume() to service_role;
