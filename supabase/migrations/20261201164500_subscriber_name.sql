-- subscribers.from_name holds the recipient's own name (from the import, for the greeting),
-- not a sender's: it is `name` now. The functions that read or write it are redefined with
-- the new name: claim_batch returns `name` (a changed result column: dropped and created
-- again, with its grants), import_subscribers reads each row's `name` (and, for an importer
-- of the previous version still running during a deploy, `from_name`).

alter table public.subscribers rename column from_name to name;
alter table public.subscribers rename constraint subscribers_from_name_not_damaged to subscribers_name_not_damaged;

drop function public.claim_batch(text, uuid, integer, integer);

create function public.claim_batch(p_mailout_id text, p_lease_token uuid, p_limit integer DEFAULT 50, p_lease_seconds integer DEFAULT 120)
 RETURNS TABLE(subscriber_id uuid, email text, name text)
 LANGUAGE plpgsql
 SET search_path TO 'public', 'pg_temp'
AS $function$
#variable_conflict use_column
declare
  v_ids   uuid[];
  v_sent  integer;
begin
  if p_limit is null or p_limit < 1 or p_limit > 10000 then
    raise exception 'claim_batch: limit must be between 1 and 10000' using errcode = '22023';
  end if;

  update public.mailouts
     set lease_until = greatest(lease_until, now() + make_interval(secs => p_lease_seconds)),
         updated_at = now()
   where id = p_mailout_id
     and lease_token = p_lease_token
     and status = 'sending'
     and lease_until > now();
  if not found then
    raise exception 'claim_batch: the lease on mailout % is gone', p_mailout_id
      using errcode = 'ML001',
            hint = 'The lease expired and the mailout was resumed elsewhere, or it was paused.';
  end if;

  loop
    select array_agg(q.subscriber_id) into v_ids
      from (select d.subscriber_id
              from public.deliveries d
             where d.mailout_id = p_mailout_id and d.status = 'queued'
             order by d.subscriber_id
             limit p_limit
             for update skip locked) q;
    exit when v_ids is null;

    update public.deliveries d
       set status = 'skipped',
           error_code = 'subscriber_' || s.status,
           error_message = 'the subscriber left the list after the mailout was claimed',
           updated_at = now()
      from public.subscribers s
     where d.mailout_id = p_mailout_id
       and d.subscriber_id = any (v_ids)
       and s.id = d.subscriber_id
       and s.status <> 'active';

    return query
      update public.deliveries d
         set status = 'sending',
             claimed_by = p_lease_token,
             attempts = d.attempts + 1,
             updated_at = now()
        from public.subscribers s
       where d.mailout_id = p_mailout_id
         and d.subscriber_id = any (v_ids)
         and d.status = 'queued'
         and s.id = d.subscriber_id
      returning d.subscriber_id, d.email, s.name;
    get diagnostics v_sent = row_count;
    exit when v_sent > 0;
  end loop;
end;
$function$;

comment on function public.claim_batch(text, uuid, integer, integer) is
  'Hand out the next queued deliveries (FOR UPDATE SKIP LOCKED), skipping inactive subscribers; extends the lease.';

revoke execute on function public.claim_batch(text, uuid, integer, integer) from public, anon, authenticated;
grant execute on function public.claim_batch(text, uuid, integer, integer) to service_role;

create or replace function public.import_subscribers(p_rows jsonb, p_dry_run boolean DEFAULT false)
 RETURNS TABLE(inserted integer, updated integer, unchanged integer)
 LANGUAGE plpgsql
 SET search_path TO 'public', 'pg_temp'
AS $function$
#variable_conflict use_column
declare
  v_total     integer;
  v_inserted  integer;
  v_updated   integer;
  v_bad       text;
begin
  if p_rows is null or jsonb_typeof(p_rows) <> 'array' then
    raise exception 'import_subscribers: p_rows must be a JSON array' using errcode = '22023';
  end if;
  if jsonb_array_length(p_rows) > 10000 then
    raise exception 'import_subscribers: at most 10000 rows per call (got %)', jsonb_array_length(p_rows)
      using errcode = '22023';
  end if;

  -- The client validates properly; this only keeps obvious garbage out of the table.
  select r.email into v_bad
    from jsonb_to_recordset(p_rows) as r(email text)
   where r.email is null or btrim(r.email) !~ '^[^@[:space:]]+@[^@[:space:]]+$' or length(btrim(r.email)) > 320
   limit 1;
  if found then
    raise exception 'import_subscribers: not an email address: %', coalesce(v_bad, '(null)') using errcode = '22023';
  end if;

  if p_dry_run then
    with input as (
      -- The chunk, trimmed, without its own duplicates (first occurrence wins).
      select distinct on (lower(x.email)) x.email, x.name, x.source
        from (select btrim(e.value ->> 'email') as email, nullif(btrim(coalesce(e.value ->> 'name', e.value ->> 'from_name')), '') as name,
                     nullif(btrim(e.value ->> 'source'), '') as source, e.ord
                from jsonb_array_elements(p_rows) with ordinality as e(value, ord)) x
       order by lower(x.email), x.ord
    )
    select count(*)::integer,
           count(*) filter (where s.id is null)::integer,
           count(*) filter (where s.id is not null and (
             (nullif(btrim(s.name), '') is null and i.name is not null)
             or (s.source is null and i.source is not null)))::integer
      into v_total, v_inserted, v_updated
      from input i
      left join public.subscribers s on lower(s.email) = lower(i.email);
  else
    -- The same conditions as the dry run above, as the ON CONFLICT update and its WHERE.
    -- xmax = 0 on a row returned by INSERT ... ON CONFLICT means it was inserted, not updated;
    -- a conflicting row that the WHERE filters out is not returned at all: unchanged.
    with input as (
      select distinct on (lower(x.email)) x.email, x.name, x.source
        from (select btrim(e.value ->> 'email') as email, nullif(btrim(coalesce(e.value ->> 'name', e.value ->> 'from_name')), '') as name,
                     nullif(btrim(e.value ->> 'source'), '') as source, e.ord
                from jsonb_array_elements(p_rows) with ordinality as e(value, ord)) x
       order by lower(x.email), x.ord
    ),
    upserted as (
      insert into public.subscribers as s (email, name, source, status)
      select i.email, i.name, i.source, 'active' from input i
      on conflict ((lower(email))) do update
         set name = case when nullif(btrim(s.name), '') is null then excluded.name else s.name end,
             source    = coalesce(s.source, excluded.source)
       where (nullif(btrim(s.name), '') is null and excluded.name is not null)
          or (s.source is null and excluded.source is not null)
      returning (s.xmax = 0) as was_inserted
    )
    select (select count(*) from input)::integer,
           count(*) filter (where u.was_inserted)::integer,
           count(*) filter (where not u.was_inserted)::integer
      into v_total, v_inserted, v_updated
      from upserted u;
  end if;

  return query select v_inserted, v_updated, v_total - v_inserted - v_updated;
end;
$function$;
