-- claim_mailout answers the ledger's counters (issue 26 item 2, issue 21 item 5).
--
-- A resume answered `unknown` as m.unknown + the rows its takeover turned unknown, counted
-- before: a row that SES had already reported is settled as sent by the trigger on its way to
-- unknown (20261203120100), so that sum over-counted it, and the resume's `queued` and an
-- in_progress answer's counted the mailout's deliveries. Now both answer the mailouts row's
-- counters, read back after the takeover (the same transaction keeps them equal to the
-- ledger), the recipients not copied yet counted as recipients and as queued. The claim no
-- longer writes recipients or unknown, which only the counting triggers may change (the
-- mailouts trigger kept their values anyway).

create or replace function public.claim_mailout(p_mailout_id text, p_subject text DEFAULT NULL::text, p_lease_seconds integer DEFAULT 120, p_content jsonb DEFAULT NULL::jsonb)
 RETURNS TABLE(outcome text, mailout_id text, status text, lease_token uuid, lease_until timestamp with time zone, recipients integer, queued integer, unknown integer, last_error text, content jsonb)
 LANGUAGE plpgsql
 SET search_path TO 'public', 'pg_temp'
AS $function$
#variable_conflict use_column
declare
  v_token      uuid := gen_random_uuid();
  v_until      timestamptz;
  v_count      integer;
  v_reason     text := 'No letter is stored for this mailout and none was given: nothing was claimed. Send it from its Notion page.';
  m            public.mailouts%rowtype;
  r            public.mailouts%rowtype;
begin
  if p_mailout_id is null or length(btrim(p_mailout_id)) = 0 then
    raise exception 'claim_mailout: mailout id is required' using errcode = '22023';
  end if;
  if p_mailout_id !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
    raise exception 'claim_mailout: mailout id % is not a dashed lower-case UUID', left(p_mailout_id, 100) using errcode = '22023';
  end if;
  if p_lease_seconds is null or p_lease_seconds < 1 or p_lease_seconds > 86400 then
    raise exception 'claim_mailout: lease seconds must be between 1 and 86400' using errcode = '22023';
  end if;
  v_until := now() + make_interval(secs => p_lease_seconds);

  if p_content is not null and not exists (select 1 from public.mailouts where id = p_mailout_id) then
    -- The instant of the claim: subscriber changes under way commit first, later ones wait
    -- for this transaction and are stamped after it (see private.subscribers_status_change).
    lock table public.subscribers in share mode;
    insert into public.mailouts (id, subject, status, lease_token, lease_until, started_at, content,
                                 snapshot_at, snapshot_from, snapshot_done)
    values (p_mailout_id, p_subject, 'sending', v_token, v_until, now(), p_content,
            clock_timestamp(), '00000000-0000-0000-0000-000000000000', false)
    on conflict (id) do nothing;

    if found then
      select count(*)::integer into v_count from public.subscribers s where s.status = 'active';
      perform private.snapshot_recipients(p_mailout_id);
      update public.mailouts set claimed_recipients = v_count where id = p_mailout_id;
      return query select 'claimed'::text, p_mailout_id, 'sending'::text, v_token, v_until,
                          v_count, v_count, 0, null::text, p_content;
      return;
    end if;
  end if;

  select * into m from public.mailouts where id = p_mailout_id for update;

  if not found then
    return query select 'no_letter'::text, p_mailout_id, null::text, null::uuid, null::timestamptz,
                        0, 0, 0, v_reason, null::jsonb;
    return;
  end if;
  if m.status = 'sent' then
    return query select 'already_sent'::text, m.id, m.status, null::uuid, m.lease_until,
                        m.recipients, 0, m.unknown, m.last_error, null::jsonb;
    return;
  end if;
  if m.status = 'sending' and m.lease_until > now() then
    return query select 'in_progress'::text, m.id, m.status, null::uuid, m.lease_until,
                        m.recipients + private.uncopied_recipients(m), m.queued + private.uncopied_recipients(m),
                        m.unknown, m.last_error, null::jsonb;
    return;
  end if;
  if m.content is null and p_content is null then
    if m.status = 'sending' then
      update public.mailouts
         set status = 'failed', lease_token = null, lease_until = null, last_error = v_reason, updated_at = now()
       where id = p_mailout_id;
    end if;
    return query select 'no_letter'::text, m.id, case when m.status = 'sending' then 'failed' else m.status end,
                        null::uuid, null::timestamptz, m.recipients, 0, m.unknown, v_reason, null::jsonb;
    return;
  end if;

  -- Resume. A row a dead invocation took but never attempted goes back to the queue; a row
  -- it was sending (begin_send ran) may or may not have reached SES: it is never retried.
  update public.deliveries
     set status = 'queued', claimed_by = null, attempts = greatest(attempts - 1, 0), updated_at = now()
   where mailout_id = p_mailout_id and status = 'sending' and attempted_at is null;
  update public.deliveries
     set status = 'unknown',
         error_code = 'interrupted',
         error_message = 'in flight when the previous invocation stopped; not retried',
         updated_at = now()
   where mailout_id = p_mailout_id and status = 'sending';

  update public.mailouts
     set status = 'sending',
         subject = coalesce(subject, p_subject),
         -- The letter fixed at the first claim wins: everyone gets the same one.
         content = coalesce(content, p_content),
         lease_token = v_token,
         lease_until = v_until,
         last_error = null,
         updated_at = now()
   where id = p_mailout_id
  returning * into r;

  -- The counts as the ledger has them now, takeover included (a row turned unknown that SES
  -- had already reported was settled as sent on the way), the recipients not copied yet queued.
  return query select 'resumed'::text, r.id, 'sending'::text, v_token, v_until,
                      r.recipients + private.uncopied_recipients(r), r.queued + private.uncopied_recipients(r),
                      r.unknown, m.last_error, r.content;
end;
$function$;

comment on function public.claim_mailout(text, text, integer, jsonb) is
  'Claim (or resume) a mailout for sending; exactly one concurrent caller wins; never without a letter. Fixes the recipients (active now) and copies the first chunk.';

-- The guard of the count columns, its comment true again (no function writes them now).
create or replace function private.mailouts_counts_from_ledger()
returns trigger
language plpgsql
set search_path = public, pg_temp
as $$
begin
  if current_setting('mailout.counts_from_ledger', true) = 'on' then
    return new;
  end if;
  -- Any other writer keeps the ledger's values: a row's change is counted when the row
  -- changes, by the counting triggers, and by nothing else.
  if tg_op = 'INSERT' then
    new.recipients := 0; new.queued := 0; new.sending := 0; new.sent := 0; new.failed := 0;
    new.skipped := 0; new.unknown := 0; new.delivered := 0; new.hard_bounces := 0;
    new.soft_bounces := 0; new.complaints := 0;
  else
    new.recipients := old.recipients; new.queued := old.queued; new.sending := old.sending;
    new.sent := old.sent; new.failed := old.failed; new.skipped := old.skipped; new.unknown := old.unknown;
    new.delivered := old.delivered; new.hard_bounces := old.hard_bounces;
    new.soft_bounces := old.soft_bounces; new.complaints := old.complaints;
  end if;
  return new;
end;
$$;
