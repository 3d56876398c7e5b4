-- The ledger's counters at a fixed cost per statement (issue 21 item 5).
--
-- private.deliveries_keep_counts (20261203120100) built its SQL with execute format(...) on
-- every statement on deliveries, so each statement paid a parse and a plan: about 2.5 ms of
-- every claim_batch, begin_sends and record_results here, each of which runs two statements
-- on deliveries. Now the triggers' SQL is written out (one function for inserts and deletes,
-- one for updates) and one function adds the changes up: PL/pgSQL prepares each statement
-- once per session and reuses its plan. What is counted is unchanged: each row +1 as it is
-- now and -1 as it was, added to its mailout's counters in the statement's own transaction,
-- only when something changed. The triggers read from the transition tables only the columns
-- that count.

create type private.count_change as (
  n integer, mailout_id text, status text,
  fb_delivered boolean, fb_hard_bounce boolean, fb_soft_bounce boolean, fb_complaint boolean
);
comment on type private.count_change is
  'One delivery row as the counters see it: n = +1 as it is now, -1 as it was.';

create function private.add_to_counts(p_changes private.count_change[])
returns void
language plpgsql
set search_path = public, pg_temp
as $$
begin
  if pg_trigger_depth() = 0 then
    raise exception 'add_to_counts: only the deliveries counting triggers add to the counts' using errcode = '42501';
  end if;
  perform set_config('mailout.counts_from_ledger', 'on', true);
  update public.mailouts m
     set recipients = m.recipients + c.recipients, queued = m.queued + c.queued, sending = m.sending + c.sending,
         sent = m.sent + c.sent, failed = m.failed + c.failed, skipped = m.skipped + c.skipped,
         unknown = m.unknown + c.unknown, delivered = m.delivered + c.delivered,
         hard_bounces = m.hard_bounces + c.hard_bounces, soft_bounces = m.soft_bounces + c.soft_bounces,
         complaints = m.complaints + c.complaints
    from (select r.mailout_id,
                 sum(r.n)::integer as recipients,
                 coalesce(sum(r.n) filter (where r.status = 'queued'), 0)::integer as queued,
                 coalesce(sum(r.n) filter (where r.status = 'sending'), 0)::integer as sending,
                 coalesce(sum(r.n) filter (where r.status = 'sent'), 0)::integer as sent,
                 coalesce(sum(r.n) filter (where r.status = 'failed'), 0)::integer as failed,
                 coalesce(sum(r.n) filter (where r.status = 'skipped'), 0)::integer as skipped,
                 coalesce(sum(r.n) filter (where r.status = 'unknown'), 0)::integer as unknown,
                 coalesce(sum(r.n) filter (where r.fb_delivered), 0)::integer as delivered,
                 coalesce(sum(r.n) filter (where r.fb_hard_bounce), 0)::integer as hard_bounces,
                 coalesce(sum(r.n) filter (where r.fb_soft_bounce and not r.fb_hard_bounce), 0)::integer as soft_bounces,
                 coalesce(sum(r.n) filter (where r.fb_complaint), 0)::integer as complaints
            from unnest(p_changes) r
           group by r.mailout_id) c
   where m.id = c.mailout_id
     and (c.recipients, c.queued, c.sending, c.sent, c.failed, c.skipped, c.unknown,
          c.delivered, c.hard_bounces, c.soft_bounces, c.complaints) <> (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  perform set_config('mailout.counts_from_ledger', '', true);
end;
$$;
comment on function private.add_to_counts(private.count_change[]) is
  'Add one statement''s changes of deliveries to their mailouts'' counters (the only writer of the count columns).';

-- An insert's or a delete's rows, as the trigger names them either way (changed_rows).
create function private.deliveries_count_rows()
returns trigger
language plpgsql
set search_path = public, pg_temp
as $$
declare
  v_n integer := case tg_op when 'DELETE' then -1 else 1 end;
begin
  perform private.add_to_counts(array(
    select (v_n, r.mailout_id, r.status, r.fb_delivered, r.fb_hard_bounce, r.fb_soft_bounce, r.fb_complaint)::private.count_change
      from changed_rows r));
  return null;
end;
$$;
comment on function private.deliveries_count_rows() is
  'Statement trigger on deliveries (insert, delete): add the rows inserted, take off the rows deleted, in their mailouts'' counters (same transaction).';

create function private.deliveries_count_updates()
returns trigger
language plpgsql
set search_path = public, pg_temp
as $$
begin
  perform private.add_to_counts(array(
    select (1, r.mailout_id, r.status, r.fb_delivered, r.fb_hard_bounce, r.fb_soft_bounce, r.fb_complaint)::private.count_change
      from new_rows r
    union all
    select (-1, r.mailout_id, r.status, r.fb_delivered, r.fb_hard_bounce, r.fb_soft_bounce, r.fb_complaint)::private.count_change
      from old_rows r));
  return null;
end;
$$;
comment on function private.deliveries_count_updates() is
  'Statement trigger on deliveries (update): count each row''s change of status or feedback in its mailout''s counters (same transaction).';

revoke all on function private.add_to_counts(private.count_change[]) from public, anon, authenticated;
revoke all on function private.deliveries_count_rows() from public, anon, authenticated;
revoke all on function private.deliveries_count_updates() from public, anon, authenticated;
grant execute on function private.add_to_counts(private.count_change[]) to service_role;
grant execute on function private.deliveries_count_rows() to service_role;
grant execute on function private.deliveries_count_updates() to service_role;

-- Swapped in one transaction (migrations run each file in one): no statement goes uncounted.
drop trigger deliveries_count_inserts on public.deliveries;
drop trigger deliveries_count_updates on public.deliveries;
drop trigger deliveries_count_deletes on public.deliveries;
create trigger deliveries_count_inserts after insert on public.deliveries
  referencing new table as changed_rows for each statement execute function private.deliveries_count_rows();
create trigger deliveries_count_updates after update on public.deliveries
  referencing old table as old_rows new table as new_rows for each statement execute function private.deliveries_count_updates();
create trigger deliveries_count_deletes after delete on public.deliveries
  referencing old table as changed_rows for each statement execute function private.deliveries_count_rows();
drop function private.deliveries_keep_counts();

comment on function private.mailouts_counts_from_ledger() is
  'Trigger on mailouts: the count columns change only through private.add_to_counts (the deliveries counting triggers).';
