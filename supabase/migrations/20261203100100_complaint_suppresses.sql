-- ---------------------------------------------------------------------------------------
-- A complaint suppresses for good, like a hard bounce. An address that complained becomes
-- `complained`, a status nothing moves back to `active`: `resubscribe` moves only
-- `unsubscribed`, an import never changes a status, and every SES event changes only active
-- addresses. Before this migration a complaint made the address `unsubscribed`, and the old
-- unsubscribe link's "subscribe again" button mailed it again.
--
-- The change is made by triggers, not in apply_ses_event, so it holds whatever version of
-- that function applies the event:
--   - ses_events_complaint_suppresses: a deferred constraint trigger on each stored Complaint
--     event; at commit (after the function's own changes) its complained recipients become
--     `complained`, unless bounced (already suppressed for good);
--   - subscribers_complained_stay_out: an address inserted again (a row deleted, then
--     re-imported) that complained before starts as `complained`.
-- Addresses that complained before this migration are marked below.
-- ---------------------------------------------------------------------------------------
alter table public.subscribers drop constraint subscribers_status_check;
alter table public.subscribers add constraint subscribers_status_check
  check (status in ('active', 'unsubscribed', 'bounced', 'complained'));

-- The insert trigger looks a new address up among the complaints.
create index ses_events_complaint_email_idx on public.ses_events (lower(email)) where event_type = 'Complaint';

create or replace function public.complaint_suppresses()
returns trigger
language plpgsql
set search_path = public, pg_temp
as $$
begin
  update public.subscribers s
     set status = 'complained', status_updated_at = now()
   where lower(s.email) in (select lower(x) from unnest(new.recipients || new.email) x where x is not null)
     and s.status in ('active', 'unsubscribed');
  return null;
end;
$$;
comment on function public.complaint_suppresses() is
  'Trigger: the complained recipients of a stored Complaint event become complained (for good), unless bounced.';

create constraint trigger ses_events_complaint_suppresses
  after insert on public.ses_events
  deferrable initially deferred
  for each row when (new.event_type = 'Complaint')
  execute function public.complaint_suppresses();

create or replace function public.complained_stay_out()
returns trigger
language plpgsql
set search_path = public, pg_temp
as $$
begin
  if new.status in ('active', 'unsubscribed')
     and exists (select 1 from public.ses_events e where e.event_type = 'Complaint' and lower(e.email) = lower(new.email)) then
    new.status := 'complained';
  end if;
  return new;
end;
$$;
comment on function public.complained_stay_out() is
  'Trigger: an address inserted again after it complained starts as complained.';

create trigger subscribers_complained_stay_out
  before insert on public.subscribers
  for each row execute function public.complained_stay_out();

revoke all on function public.complaint_suppresses() from public, anon, authenticated;
revoke all on function public.complained_stay_out() from public, anon, authenticated;
grant execute on function public.complaint_suppresses() to service_role;
grant execute on function public.complained_stay_out() to service_role;

-- Addresses that complained before this migration.
update public.subscribers s
   set status = 'complained', status_updated_at = now()
 where s.status in ('active', 'unsubscribed')
   and exists (select 1 from public.ses_events e
                where e.event_type = 'Complaint'
                  and lower(s.email) in (select lower(x) from unnest(e.recipients || e.email) x where x is not null));
