-- U+FFFD (the replacement character) in a subscriber's address, name or source is text that
-- was damaged by a wrong decoding before it reached us; sent in a greeting it reads "Dear ���".
-- The import rejects such rows (and decodes Windows-1251 files correctly); these checks make
-- the database refuse them whatever writes. NOT VALID: rows stored before are not checked
-- (find them with: select id, email, from_name from subscribers where strpos(from_name, chr(65533)) > 0).

alter table public.subscribers
  add constraint subscribers_email_not_damaged check (strpos(email, chr(65533)) = 0) not valid,
  add constraint subscribers_from_name_not_damaged check (from_name is null or strpos(from_name, chr(65533)) = 0) not valid,
  add constraint subscribers_source_not_damaged check (source is null or strpos(source, chr(65533)) = 0) not valid;
