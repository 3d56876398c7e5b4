import { listMigrations } from '../../scripts/db/migrate';
import { checkMigrations, checkResumeSafetyNet } from '../../scripts/doctor/settings';
import { readinessFacts } from '../../scripts/doctor/store';
import { createTestDatabase, seedSubscribers, type TestDatabase } from '../helpers/db';

/** readiness_facts(): what the doctor asks the database, and the checks it feeds (a real migrated Postgres). */

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
  await seedSubscribers(t.pool, 7);
  await t.pool.query(`update subscribers set status = 'unsubscribed' where email = (select min(email) from subscribers)`);
});
afterAll(async () => {
  await t.drop();
});

const versions = () => listMigrations().map((m) => m.version);

test('it counts the active subscribers and lists the applied migrations; without pg_cron there is no resume job', async () => {
  const facts = await readinessFacts(t.db);
  expect(facts).toEqual({ activeSubscribers: 6, appliedMigrations: versions(), resumeJob: false });
  expect(checkMigrations(facts, undefined, versions())).toMatchObject({ status: 'ok', detail: `all ${versions().length} applied` });
  expect(checkResumeSafetyNet({ cronSecret: 'x'.repeat(16) }, facts)).toMatchObject({ status: 'warn', fix: 'Run npm run setup:cron.' });
});

test('a migration not applied refuses, naming it and the command that applies it', async () => {
  const facts = await readinessFacts(t.db);
  const missing = versions().at(-1)!;
  const check = checkMigrations({ ...facts, appliedMigrations: facts.appliedMigrations.filter((v) => v !== missing) }, undefined, versions());
  expect(check).toMatchObject({ status: 'fail', detail: `1 not applied: ${missing}`, fix: expect.stringContaining('npm run migrate') });
});

test('a database without readiness_facts (migrations never applied) refuses', async () => {
  const empty = await createTestDatabase({ empty: true });
  try {
    const err = await readinessFacts(empty.db).catch((e: unknown) => e as Error);
    expect(checkMigrations(null, (err as Error).message, versions())).toMatchObject({ status: 'fail', detail: expect.stringContaining('did not answer readiness_facts') });
  } finally {
    await empty.drop();
  }
});
