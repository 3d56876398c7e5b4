-- ---------------------------------------------------------------------------------------
-- mailout_letter: the letter a mailout stored at its claim, for its web version
-- (/api/view, a signed link in every letter). Nothing about any recipient is in it: the
-- stored letter keeps its per-recipient placeholders, which lib/view fills with nothing.
-- No row until the mailout is claimed (a test send or a dry run stores nothing).
-- `m.id::text` keeps the function valid whether the id column is text or uuid.
-- ---------------------------------------------------------------------------------------
create or replace function public.mailout_letter(p_mailout_id text)
returns table (subject text, content jsonb)
language sql
stable
set search_path = public, pg_temp
as $$
  select m.subject, m.content
    from public.mailouts m
   where m.id::text = p_mailout_id and m.content is not null;
$$;
comment on function public.mailout_letter(text) is 'The stored letter of a claimed mailout (its web version).';

revoke all on function public.mailout_letter(text) from public, anon, authenticated;
grant execute on function public.mailout_letter(text) to service_role;
