-- begin_sends: begin_send for several messages in one call, in one transaction.
--
-- The send engine marks each message with begin_send just before SES sees it. At a high
-- rate, with several messages holding a place at the pacer at once, the marks that are
-- asked for together are written together (group commit): one round trip and one commit
-- instead of one per message. Each id gets exactly the decision begin_send gives it
-- ('send', 'skip' or 'lost'), in the order given; an id given twice gets 'lost' the second
-- time, as a second begin_send would.

create or replace function public.begin_sends(p_mailout_id text, p_lease_token uuid, p_subscriber_ids uuid[])
returns table (subscriber_id uuid, decision text)
language plpgsql
volatile
set search_path = public, pg_temp
as $$
#variable_conflict use_column
declare
  v_id uuid;
begin
  if p_subscriber_ids is null then
    raise exception 'begin_sends: subscriber ids are required' using errcode = '22023';
  end if;
  foreach v_id in array p_subscriber_ids loop
    return query select v_id, b.decision from public.begin_send(p_mailout_id, p_lease_token, v_id) b;
  end loop;
end;
$$;
comment on function public.begin_sends(text, uuid, uuid[]) is
  'begin_send for several messages in one transaction: one decision per id, in order.';

revoke execute on function public.begin_sends(text, uuid, uuid[]) from public, anon, authenticated;
grant execute on function public.begin_sends(text, uuid, uuid[]) to service_role;
