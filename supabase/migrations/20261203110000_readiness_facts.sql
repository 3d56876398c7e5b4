-- ---------------------------------------------------------------------------------------
-- What `npm run doctor` asks the database (lib/readiness/store.ts): how many subscribers a
-- live send would mail, which migrations are applied (the bookkeeping table both
-- `npm run migrate` and `supabase db push` write), and whether `npm run setup:cron`
-- installed the resume safety net (the pg_cron job mailout-resume).
-- It reads only; no table is added. Security definer: service_role has no grant on the
-- supabase_migrations and cron schemas, and needs none beyond this answer.
-- ---------------------------------------------------------------------------------------

create or replace function public.readiness_facts()
returns table(active_subscribers integer, applied_migrations text[], resume_job boolean)
language plpgsql
stable
security definer
set search_path = public, pg_temp
as $$
declare
  v_applied text[] := '{}';
  v_job boolean := false;
begin
  -- Dynamic: either table may be absent (a database migrated by hand, a Postgres without pg_cron).
  if to_regclass('supabase_migrations.schema_migrations') is not null then
    execute 'select coalesce(array_agg(version::text order by version), ''{}'') from supabase_migrations.schema_migrations' into v_applied;
  end if;
  if to_regclass('cron.job') is not null then
    execute 'select exists (select 1 from cron.job where jobname = ''mailout-resume'')' into v_job;
  end if;
  return query
    select (select count(*)::integer from public.subscribers s where s.status = 'active'), v_applied, v_job;
end;
$$;
comment on function public.readiness_facts() is
  'For npm run doctor: active subscribers, the applied migration versions, and whether the pg_cron job mailout-resume exists.';

revoke execute on function public.readiness_facts() from public, anon, authenticated;
grant execute on function public.readiness_facts() to service_role;
