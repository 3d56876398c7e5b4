-- SNS messages that verified (signed by Amazon SNS, from an allowed topic) but cannot be
-- stored as SES events: a payload Postgres jsonb refuses (\u0000, a lone surrogate, nesting
-- too deep) or one too large to apply. Answering 5xx would make SNS retry it for days, and
-- dropping it would lose a bounce or complaint without a word; it is kept here instead, the
-- raw body sanitized to text, for a person to look at (and answered 200).
--
--   keep_sns_dead_letter   store one such message, idempotent on the SNS MessageId (a second
--                          delivery counts up `deliveries`)

create table public.sns_dead_letters (
  sns_message_id  text primary key,
  topic_arn       text not null,
  reason          text not null,
  body            text not null,
  received_at     timestamptz not null default now(),
  last_seen_at    timestamptz not null default now(),
  deliveries      integer not null default 1 check (deliveries > 0)
);
comment on table public.sns_dead_letters is
  'Verified SNS messages that could not be stored as ses_events; kept for a person to look at (body sanitized: \u0000 written as an escape).';

alter table public.sns_dead_letters enable row level security;
revoke all on table public.sns_dead_letters from public, anon, authenticated;
grant select, insert, update, delete on table public.sns_dead_letters to service_role;


-- keep_sns_dead_letter: store a verified SNS message that cannot be applied.
--   returns kept = true for the first delivery of this MessageId, false for a redelivery.
create or replace function public.keep_sns_dead_letter(
  p_sns_message_id  text,
  p_topic_arn       text,
  p_reason          text,
  p_body            text
)
returns table (kept boolean, deliveries integer)
language plpgsql
security invoker
set search_path = public, pg_temp
as $$
#variable_conflict use_column
begin
  return query
  insert into public.sns_dead_letters as d (sns_message_id, topic_arn, reason, body)
  values (p_sns_message_id, p_topic_arn, p_reason, p_body)
  on conflict (sns_message_id) do update
    set deliveries = d.deliveries + 1, last_seen_at = now()
  returning (d.deliveries = 1), d.deliveries;
end;
$$;

revoke execute on function public.keep_sns_dead_letter(text, text, text, text) from public, anon, authenticated;
grant execute on function public.keep_sns_dead_letter(text, text, text, text) to service_role;
