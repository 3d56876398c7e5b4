import type { Pool } from 'pg';

/**
 * Stand-ins for the three Supabase extensions the resume schedule uses, with their real
 * signatures (pg_cron cron.schedule/unschedule and cron.job; pg_net net.http_get, which only
 * queues the request; supabase_vault vault.secrets, vault.decrypted_secrets,
 * vault.create_secret/update_secret). They record instead of acting: `cron.job` holds the
 * jobs, `net.recorded_requests` the requests pg_net would send.
 */
export const SUPABASE_EXTENSION_STUBS = `
create schema cron;
create table cron.job (jobid bigserial primary key, jobname text unique, schedule text not null, command text not null);
create function cron.schedule(job_name text, schedule text, command text) returns bigint language sql as $$
  insert into cron.job (jobname, schedule, command) values (job_name, schedule, command)
  on conflict (jobname) do update set schedule = excluded.schedule, command = excluded.command
  returning jobid;
$$;
create function cron.unschedule(job_name text) returns boolean language sql as $$
  with d as (delete from cron.job where jobname = job_name returning 1) select exists (select 1 from d);
$$;

create schema net;
create table net.recorded_requests (id bigserial primary key, method text, url text, headers jsonb, timeout_milliseconds integer);
create function net.http_get(url text, params jsonb default '{}'::jsonb, headers jsonb default '{}'::jsonb, timeout_milliseconds integer default 5000)
returns bigint language sql as $$
  insert into net.recorded_requests (method, url, headers, timeout_milliseconds) values ('GET', url, headers, timeout_milliseconds) returning id;
$$;

create schema vault;
create table vault.secrets (id uuid primary key default gen_random_uuid(), name text unique, description text default '', secret text not null);
create view vault.decrypted_secrets as select id, name, description, secret, secret as decrypted_secret from vault.secrets;
create function vault.create_secret(new_secret text, new_name text default null, new_description text default '', new_key_id uuid default null)
returns uuid language sql as $$
  insert into vault.secrets (secret, name, description) values (new_secret, new_name, new_description) returning id;
$$;
create function vault.update_secret(secret_id uuid, new_secret text default null, new_name text default null, new_description text default null, new_key_id uuid default null)
returns void language sql as $$
  update vault.secrets set secret = coalesce(new_secret, secret), name = coalesce(new_name, name), description = coalesce(new_description, description) where id = secret_id;
$$;
`;

export async function installSupabaseExtensionStubs(pool: Pool): Promise<void> {
  await pool.query(SUPABASE_EXTENSION_STUBS);
}
