-- The send engine records outcomes as SES answers them (one or a few per call), not one
-- batch at a time: record_results' description says so. Nothing else changes.
comment on function public.record_results(text, uuid, jsonb) is
  'Record the outcomes of sends as SES answers them (one or several per call), or hand back rows that were never sent.';
