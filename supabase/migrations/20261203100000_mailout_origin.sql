-- ---------------------------------------------------------------------------------------
-- A mailout's origin: the letter stored at the claim says where it came from
-- (`content.origin`: 'notion', a page of the Mailouts database, or 'file', a Markdown file
-- sent from the command line). Only a mailout that came from a Notion page writes back to
-- it, and only such a mailout's continuation re-checks its page: a Markdown mailout's id is
-- a name-based UUID (or its front matter's), never a page to write onto.
--
-- Letters stored before this migration carry no origin. A Markdown file's id has always
-- been a version-8 name-based UUID (lib/mailout-id `mailoutIdFromName`) unless its front
-- matter gave a UUID; Notion's page ids are version 4. So a version-8 id is taken as a file
-- and any other as a page, which is what the executor assumed before.
-- ---------------------------------------------------------------------------------------
update public.mailouts
   set content = content || jsonb_build_object('origin', case when substr(id, 15, 1) = '8' then 'file' else 'notion' end)
 where content is not null and not (content ? 'origin');

create or replace function public.mailout_origin(p_mailout_id text)
returns table (origin text)
language sql
stable
set search_path = public, pg_temp
as $$
  select case when m.content is null then null
              when m.content ->> 'origin' in ('notion', 'file') then m.content ->> 'origin'
              else 'unknown' end
    from public.mailouts m
   where m.id = p_mailout_id;
$$;
comment on function public.mailout_origin(text) is
  'Where a claimed mailout''s letter came from: notion, file, unknown (a letter stored without its origin), or null (no letter stored).';

revoke all on function public.mailout_origin(text) from public, anon, authenticated;
grant execute on function public.mailout_origin(text) to service_role;
