-- One page, one mailout: every identity that decides "the same or not" has one canonical
-- form, and the database refuses any other.
--
-- Before this migration a claim was keyed on the mailout id exactly as the caller wrote it,
-- so one Notion page sent as its dashed id, its undashed id, in upper case and as a link was
-- four mailouts, and every recipient got the letter four times. lib/mailout-id now parses
-- every spelling into a dashed lower-case UUID; here the database:
--   1. converts existing mailout ids to that form (undashed, upper case, a Notion link, or a
--      name such as 'demo-mailout' -> the same name-based UUID the code now derives for that
--      file), merging the rows of one page that collapse into one mailout;
--   2. refuses any other form (CHECK on mailouts.id and test_sends.mailout_id; deliveries
--      and notion_refresh reference mailouts.id);
--   3. closes as `failed` every `sending` mailout that has no stored letter (a continuation
--      for a never-claimed id created them; the cron renewed them forever), and claim_mailout
--      never again claims or resumes without a letter;
--   4. gives the other identities one stored form: a subscriber's address (trimmed, ASCII
--      with a punycode lower-case domain, unique case-insensitively as before), the SNS and
--      SES message ids (as AWS sent them, trimmed, never empty).
-- The SQL functions keep their `text` arguments: the CHECKs are the guard, so no function
-- had to change its signature.

-- ---------------------------------------------------------------------------------------
-- mailout_id_from_name: the name-based UUID of a letter that is not a Notion page (RFC 9562
-- version 8 from SHA-256 of a fixed namespace and the name). Twin of mailoutIdFromName in
-- lib/mailout-id.ts; a test holds them equal.
-- ---------------------------------------------------------------------------------------
create or replace function public.mailout_id_from_name(p_name text)
returns text
language plpgsql
immutable
set search_path = public, pg_temp
as $$
declare
  h bytea := substring(sha256(decode('f541b80d99a34821af5fa93612669acc', 'hex') || convert_to(coalesce(p_name, ''), 'UTF8')) from 1 for 16);
begin
  if p_name is null then
    return null;
  end if;
  h := set_byte(h, 6, (get_byte(h, 6) & 15) | 128);
  h := set_byte(h, 8, (get_byte(h, 8) & 63) | 128);
  return encode(h, 'hex')::uuid::text;
end;
$$;
comment on function public.mailout_id_from_name(text) is
  'Name-based UUID (v8, SHA-256) of a letter that is not a Notion page; equals lib/mailout-id mailoutIdFromName.';

-- ---------------------------------------------------------------------------------------
-- canonical_mailout_id: an id stored before this migration, in its canonical form. A Notion
-- page in any spelling (a `p=` query names the page open over a database; otherwise the
-- path's last segment ends with the id) becomes its dashed lower-case UUID; anything else
-- is a name (a Markdown file's name, 'demo-mailout') and becomes its name-based UUID.
-- ---------------------------------------------------------------------------------------
create or replace function public.canonical_mailout_id(p_id text)
returns text
language plpgsql
immutable
set search_path = public, pg_temp
as $$
declare
  v text := btrim(p_id);
  m text[];
begin
  if p_id is null then
    return null;
  end if;
  m := regexp_match(v, '[?&]p=([0-9A-Fa-f-]{32,36})(&|#|$)');
  if m is not null and replace(m[1], '-', '') ~ '^[0-9A-Fa-f]{32}$' then
    return replace(m[1], '-', '')::uuid::text;
  end if;
  m := regexp_match(lower(replace(split_part(split_part(v, '#', 1), '?', 1), '-', '')), '([0-9a-f]{32})/?$');
  if m is not null then
    return m[1]::uuid::text;
  end if;
  return public.mailout_id_from_name(p_id);
end;
$$;
comment on function public.canonical_mailout_id(text) is
  'A pre-canonical mailout id (any spelling of a Notion page, or a name) in its canonical UUID form.';

-- ---------------------------------------------------------------------------------------
-- 1. Convert and merge. Old id -> new id for every id that is not canonical yet.
-- ---------------------------------------------------------------------------------------
-- (Temporary tables dropped at the end, not ON COMMIT DROP: a tool may apply this file
-- outside an explicit transaction.)
create temporary table mailout_id_map (old_id text primary key, new_id text not null);
insert into mailout_id_map (old_id, new_id)
select ids.id, public.canonical_mailout_id(ids.id)
  from (select id from public.mailouts
        union select mailout_id from public.deliveries
        union select mailout_id from public.test_sends
        union select mailout_id from public.notion_refresh) ids(id)
 where public.canonical_mailout_id(ids.id) <> ids.id;

alter table public.deliveries drop constraint deliveries_mailout_id_fkey;
alter table public.notion_refresh drop constraint notion_refresh_mailout_id_fkey;

-- Deliveries of one page under several spellings: one row per recipient survives, the one
-- that went furthest (a recipient sent under any spelling is sent: never again).
delete from public.deliveries d
 using (select x.rid
          from (select d2.ctid as rid,
                       row_number() over (
                         partition by coalesce(m.new_id, d2.mailout_id), d2.subscriber_id
                         order by case d2.status when 'sent' then 0 when 'unknown' then 1 when 'sending' then 2
                                                 when 'failed' then 3 when 'skipped' then 4 else 5 end,
                                  d2.updated_at desc) as rn
                  from public.deliveries d2
                  left join mailout_id_map m on m.old_id = d2.mailout_id
                 where coalesce(m.new_id, d2.mailout_id) in (select new_id from mailout_id_map)) x
         where x.rn > 1) loser
 where d.ctid = loser.rid;
update public.deliveries d set mailout_id = m.new_id from mailout_id_map m where d.mailout_id = m.old_id;

-- Mailouts: the row that went furthest survives (sent, then sending, paused, failed), with
-- the first stored letter of the group and the group's first claim time.
create temporary table mailout_merge as
select coalesce(m.new_id, o.id) as new_id, o.id as old_id,
       row_number() over (partition by coalesce(m.new_id, o.id)
                          order by case o.status when 'sent' then 0 when 'sending' then 1 when 'paused' then 2 else 3 end,
                                   (o.content is null), o.created_at) as rn,
       count(*) over (partition by coalesce(m.new_id, o.id)) as spellings
  from public.mailouts o
  left join mailout_id_map m on m.old_id = o.id
 where coalesce(m.new_id, o.id) in (select new_id from mailout_id_map);

with grp as (
  select mm.new_id,
         (array_agg(o.content order by o.created_at) filter (where o.content is not null))[1] as content,
         (array_agg(o.subject order by o.created_at) filter (where o.subject is not null))[1] as subject,
         min(o.created_at) as created_at,
         min(o.started_at) as started_at
    from mailout_merge mm join public.mailouts o on o.id = mm.old_id
   group by mm.new_id
)
update public.mailouts s
   set content = coalesce(s.content, g.content),
       subject = coalesce(s.subject, g.subject),
       created_at = g.created_at,
       started_at = coalesce(g.started_at, s.started_at),
       -- A live invocation of the old code holds the old id: let the cron resume the new one.
       lease_until = case when s.status = 'sending' and mm.old_id <> mm.new_id then least(s.lease_until, now()) else s.lease_until end,
       last_error = case when mm.spellings > 1
                         then concat_ws(' ', s.last_error, format('(%s spellings of this page were merged into one mailout on upgrade.)', mm.spellings))
                         else s.last_error end,
       updated_at = now()
  from mailout_merge mm join grp g on g.new_id = mm.new_id
 where mm.rn = 1 and s.id = mm.old_id;

delete from public.mailouts o using mailout_merge mm where mm.rn > 1 and o.id = mm.old_id;
update public.mailouts o set id = mm.new_id from mailout_merge mm where mm.rn = 1 and o.id = mm.old_id and mm.old_id <> mm.new_id;

update public.mailouts o
   set recipients = c.recipients, sent = c.sent, failed = c.failed, skipped = c.skipped, unknown = c.unknown
  from (select new_id from mailout_merge where rn = 1 and spellings > 1) g,
       lateral public.mailout_counts(g.new_id) c
 where o.id = g.new_id;

update public.test_sends t set mailout_id = m.new_id from mailout_id_map m where t.mailout_id = m.old_id;

with moved as (
  delete from public.notion_refresh r using mailout_id_map m where r.mailout_id = m.old_id
  returning m.new_id, r.refreshed_at, r.pending
)
insert into public.notion_refresh as r (mailout_id, refreshed_at, pending)
select new_id, max(refreshed_at), bool_or(pending) from moved group by new_id
on conflict (mailout_id) do update
   set refreshed_at = greatest(r.refreshed_at, excluded.refreshed_at), pending = r.pending or excluded.pending;

drop table mailout_merge;
drop table mailout_id_map;

-- ---------------------------------------------------------------------------------------
-- 2. Refuse any other form from now on.
-- ---------------------------------------------------------------------------------------
alter table public.mailouts drop constraint if exists mailouts_id_check;
alter table public.mailouts add constraint mailouts_id_canonical
  check (id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$');
alter table public.test_sends add constraint test_sends_mailout_id_canonical
  check (mailout_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$');
alter table public.deliveries add constraint deliveries_mailout_id_fkey
  foreign key (mailout_id) references public.mailouts (id) on delete cascade;
alter table public.notion_refresh add constraint notion_refresh_mailout_id_fkey
  foreign key (mailout_id) references public.mailouts (id) on delete cascade;
comment on column public.mailouts.id is
  'The Notion page id as a dashed lower-case UUID (a name-based UUID for a Markdown letter); lib/mailout-id parses every spelling into it.';

-- ---------------------------------------------------------------------------------------
-- 3. A claim without a letter, left by the old code, is closed instead of renewed forever.
-- ---------------------------------------------------------------------------------------
update public.mailouts
   set status = 'failed',
       lease_token = null,
       lease_until = null,
       last_error = 'Closed on upgrade: this mailout was claimed without a stored letter (a continuation for an id that was never sent), so nothing could be sent. Press the button on the page to send it.',
       updated_at = now()
 where status = 'sending' and content is null;

-- ---------------------------------------------------------------------------------------
-- claim_mailout, as in 20261124120100_ledger_functions.sql, with two refusals:
--   a mailout id that is not canonical             -> 22023 (the code parses it first)
--   no letter given and none stored (p_content null)
--       no row                                     -> `no_letter`, nothing created
--       `sending` with an expired lease            -> closed as `failed` with the reason: `no_letter`
--       `paused` / `failed`                        -> unchanged: `no_letter`
-- A resume that brings the letter (the webhook reads the page) stores it as before.
-- ---------------------------------------------------------------------------------------
create or replace function public.claim_mailout(
  p_mailout_id    text,
  p_subject       text default null,
  p_lease_seconds integer default 120,
  p_content       jsonb default null
)
returns table (
  outcome      text,
  mailout_id   text,
  status       text,
  lease_token  uuid,
  lease_until  timestamptz,
  recipients   integer,
  queued       integer,
  unknown      integer,
  last_error   text,
  content      jsonb
)
language plpgsql
volatile
set search_path = public, pg_temp
as $$
#variable_conflict use_column
declare
  v_token      uuid := gen_random_uuid();
  v_until      timestamptz;
  v_count      integer;
  v_stale      integer;
  v_reason     text := 'No letter is stored for this mailout and none was given: nothing was claimed. Send it from its Notion page.';
  m            public.mailouts%rowtype;
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

  if p_content is not null then
    insert into public.mailouts (id, subject, status, lease_token, lease_until, started_at, content)
    values (p_mailout_id, p_subject, 'sending', v_token, v_until, now(), p_content)
    on conflict (id) do nothing;

    if found then
      insert into public.deliveries (mailout_id, subscriber_id, email)
      select p_mailout_id, s.id, s.email
        from public.subscribers s
       where s.status = 'active';
      get diagnostics v_count = row_count;
      update public.mailouts set recipients = v_count where id = p_mailout_id;
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
                        m.recipients,
                        (select count(*)::integer from public.deliveries d
                          where d.mailout_id = m.id and d.status = 'queued'),
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
  get diagnostics v_stale = row_count;

  select count(*)::integer into v_count
    from public.deliveries where mailout_id = p_mailout_id and status = 'queued';

  update public.mailouts
     set status = 'sending',
         subject = coalesce(subject, p_subject),
         -- The letter fixed at the first claim wins: everyone gets the same one.
         content = coalesce(content, p_content),
         lease_token = v_token,
         lease_until = v_until,
         unknown = unknown + v_stale,
         last_error = null,
         updated_at = now()
   where id = p_mailout_id;

  return query select 'resumed'::text, m.id, 'sending'::text, v_token, v_until,
                      m.recipients, v_count, m.unknown + v_stale, m.last_error, coalesce(m.content, p_content);
end;
$$;
comment on function public.claim_mailout(text, text, integer, jsonb) is
  'Claim (or resume) a mailout for sending; exactly one concurrent caller wins; never without a letter.';

-- ---------------------------------------------------------------------------------------
-- 4. The other identities.
-- subscribers.email: the import's form (lib/import/email.ts): trimmed, no whitespace, ASCII
-- (an internationalised domain in punycode), the domain in lower case; unique
-- case-insensitively as before (subscribers_email_ci_key). Existing rows that can be brought
-- into this form without colliding with another subscriber are. The rule is a trigger on
-- insert and on a change of the address, not a CHECK: a CHECK would also refuse the status
-- change of a row it could not fix (an unsubscribe or a bounce must always be recorded);
-- such rows are counted in a warning.
-- ---------------------------------------------------------------------------------------
update public.subscribers s
   set email = c.email
  from (select id, split_part(btrim(email), '@', 1) || '@' || lower(split_part(btrim(email), '@', 2)) as email
          from public.subscribers) c
 where c.id = s.id and c.email <> s.email
   and not exists (select 1 from public.subscribers o where o.id <> s.id and lower(o.email) = lower(c.email));

create or replace function public.email_is_canonical(p_email text)
returns boolean
language sql
immutable
set search_path = public, pg_temp
as $$
  select p_email ~ '^[!-~]+@[!-~]+$' and split_part(p_email, '@', 2) = lower(split_part(p_email, '@', 2));
$$;
comment on function public.email_is_canonical(text) is
  'An address in the import''s canonical form: ASCII without spaces, the domain (punycode) in lower case.';

-- The trigger function lives outside `public`, the schema Supabase exposes: nobody calls it.
create schema if not exists private;
revoke all on schema private from public, anon, authenticated;

create or replace function private.subscribers_email_canonical()
returns trigger
language plpgsql
set search_path = public, pg_temp
as $$
begin
  if not coalesce(public.email_is_canonical(new.email), false) then
    raise exception 'subscribers: "%" is not an address in canonical form (trimmed, ASCII with a punycode domain in lower case); add subscribers with npm run import', left(new.email, 320)
      using errcode = '23514';
  end if;
  return new;
end;
$$;
comment on function private.subscribers_email_canonical() is 'Trigger: a new or changed subscriber address must be canonical.';
create trigger subscribers_email_canonical
  before insert or update of email on public.subscribers
  for each row execute function private.subscribers_email_canonical();

do $$
declare
  v_left integer;
begin
  select count(*) into v_left from public.subscribers where not public.email_is_canonical(email);
  if v_left > 0 then
    raise warning 'subscribers: % addresses are not in canonical form (spaces, non-ASCII or an upper-case domain) and collide with another spelling; they are kept as they are', v_left;
  end if;
end;
$$;

-- test_sends.email: TEST_EMAILS in the same form (lib/config parses them like an import);
-- earlier runs are history and are not checked.
alter table public.test_sends add constraint test_sends_email_form
  check (public.email_is_canonical(email)) not valid;

-- SNS and SES message ids are opaque: stored exactly as AWS sent them, never padded or empty.
-- Rows already stored are checked too; one that fails is reported, not refused.
alter table public.ses_events add constraint ses_events_sns_message_id_form
  check (sns_message_id ~ '^[!-~]{1,200}$') not valid;
alter table public.ses_events add constraint ses_events_ses_message_id_form
  check (ses_message_id is null or ses_message_id ~ '^[!-~]{1,200}$') not valid;
alter table public.deliveries add constraint deliveries_ses_message_id_form
  check (ses_message_id is null or ses_message_id ~ '^[!-~]{1,200}$') not valid;
do $$
declare
  c record;
begin
  for c in select * from (values ('ses_events', 'ses_events_sns_message_id_form'), ('ses_events', 'ses_events_ses_message_id_form'),
                                 ('deliveries', 'deliveries_ses_message_id_form')) v(tbl, con) loop
    begin
      execute format('alter table public.%I validate constraint %I', c.tbl, c.con);
    exception when check_violation then
      raise warning '%: stored message ids break %; they are kept, new ones must be well formed', c.tbl, c.con;
    end;
  end loop;
end;
$$;

revoke execute on function public.mailout_id_from_name(text) from public, anon, authenticated;
revoke execute on function public.canonical_mailout_id(text) from public, anon, authenticated;
grant execute on function public.mailout_id_from_name(text) to service_role;
grant execute on function public.canonical_mailout_id(text) to service_role;
revoke execute on function public.email_is_canonical(text) from public, anon, authenticated;
revoke execute on function private.subscribers_email_canonical() from public, anon, authenticated;
grant execute on function public.email_is_canonical(text) to service_role;
