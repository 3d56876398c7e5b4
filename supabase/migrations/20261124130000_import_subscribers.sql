-- import_subscribers: the atomic upsert of one chunk of an import (`npm run import`).
--
-- The client (lib/import) parses the CSV, cleans and validates every address and drops the
-- file's duplicates; it then calls this function once per chunk of rows:
--
--   p_rows     a JSON array of {"email": text, "from_name": text|null, "source": text|null},
--              at most 10000 elements (the client sends ~2000, well under PostgREST's body
--              limit)
--   p_dry_run  true: count what the chunk would do, write nothing
--
-- For each address (matched case-insensitively, on the unique index on lower(email)):
--   new       -> inserted as `active` with its name and source
--   existing  -> its status is NEVER touched (an import never re-activates an `unsubscribed`
--                or `bounced` subscriber), nor its stored spelling; the name is filled in
--                only where the subscriber has none, the source only where it has none.
--                If that changes something the row is `updated`, otherwise `unchanged`.
-- So importing the same rows twice changes nothing the second time (all `unchanged`).
-- Duplicates inside one chunk are taken once (the first one wins).
--
-- Returns one row: inserted, updated, unchanged (they add up to the chunk's distinct
-- addresses). Bad input raises 22023 (invalid_parameter_value).
create or replace function public.import_subscribers(
  p_rows    jsonb,
  p_dry_run boolean default false
)
returns table (
  inserted  integer,
  updated   integer,
  unchanged integer
)
language plpgsql
volatile
set search_path = public, pg_temp
as $$
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
      select distinct on (lower(x.email)) x.email, x.from_name, x.source
        from (select btrim(e.value ->> 'email') as email, nullif(btrim(e.value ->> 'from_name'), '') as from_name,
                     nullif(btrim(e.value ->> 'source'), '') as source, e.ord
                from jsonb_array_elements(p_rows) with ordinality as e(value, ord)) x
       order by lower(x.email), x.ord
    )
    select count(*)::integer,
           count(*) filter (where s.id is null)::integer,
           count(*) filter (where s.id is not null and (
             (nullif(btrim(s.from_name), '') is null and i.from_name is not null)
             or (s.source is null and i.source is not null)))::integer
      into v_total, v_inserted, v_updated
      from input i
      left join public.subscribers s on lower(s.email) = lower(i.email);
  else
    -- The same conditions as the dry run above, as the ON CONFLICT update and its WHERE.
    -- xmax = 0 on a row returned by INSERT ... ON CONFLICT means it was inserted, not updated;
    -- a conflicting row that the WHERE filters out is not returned at all: unchanged.
    with input as (
      select distinct on (lower(x.email)) x.email, x.from_name, x.source
        from (select btrim(e.value ->> 'email') as email, nullif(btrim(e.value ->> 'from_name'), '') as from_name,
                     nullif(btrim(e.value ->> 'source'), '') as source, e.ord
                from jsonb_array_elements(p_rows) with ordinality as e(value, ord)) x
       order by lower(x.email), x.ord
    ),
    upserted as (
      insert into public.subscribers as s (email, from_name, source, status)
      select i.email, i.from_name, i.source, 'active' from input i
      on conflict ((lower(email))) do update
         set from_name = case when nullif(btrim(s.from_name), '') is null then excluded.from_name else s.from_name end,
             source    = coalesce(s.source, excluded.source)
       where (nullif(btrim(s.from_name), '') is null and excluded.from_name is not null)
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
$$;

comment on function public.import_subscribers(jsonb, boolean) is
  'Upsert one chunk of imported subscribers: new -> active; existing keep their status, names and sources filled only where missing.';

-- Only the executor (service_role) may call it. Postgres grants EXECUTE to PUBLIC by default.
revoke execute on function public.import_subscribers(jsonb, boolean) from public, anon, authenticated;
grant execute on function public.import_subscribers(jsonb, boolean) to service_role;
