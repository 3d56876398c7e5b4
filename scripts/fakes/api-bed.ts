import { resetConfig } from '../../lib/config';
import type { startSesEmulator } from '../local/stack';
import type { ApiServer } from '../local/api-server';
import type { FakeNotion } from './notion';

/** What the bed needs of its database (tests/helpers/db's TestDatabase is one). */
interface BedDatabase {
  url: string;
  drop(): Promise<void>;
}

/** What a test of POST /api/send-mailout over HTTP runs: the api/ folder, a Postgres, the SES emulator, the fake Notion. */
export interface ApiBed {
  t: BedDatabase;
  notion: FakeNotion;
  ses: Awaited<ReturnType<typeof startSesEmulator>>;
  api: ApiServer;
}

/** The environment of that sender; `env` adds to it or overrides it. */
export function apiBedEnv(
  bed: { t: Pick<BedDatabase, 'url'>; notion: Pick<FakeNotion, 'url'>; ses: Pick<ApiBed['ses'], 'url' | 'env'>; api: Pick<ApiServer, 'url'> },
  secret: string, mailoutsDatabaseId: string, env: Record<string, string> = {}): Record<string, string> {
  return {
    EXECUTOR_SHARED_SECRET: secret,
    APP_BASE_URL: bed.api.url,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local-secret',
    SES_ENDPOINT: bed.ses.url,
    ...bed.ses.env, // the emulator's ready sender (scripts/local/ready-sender.ts)
    SES_FROM_EMAIL: 'news@example.com',
    DATABASE_URL: bed.t.url,
    NOTION_TOKEN: 'secret_notion_test',
    NOTION_BASE_URL: bed.notion.url,
    NOTION_MAILOUTS_DATABASE_ID: mailoutsDatabaseId,
    RATE_LIMIT_PER_SEC: '500', // within the MaxSendRate (1,000) the emulator's ready sender advertises: scripts/local/ready-sender.ts
    SEND_CONCURRENCY: '4',
    TEST_EMAILS: 'editor@example.com',
    FOOTER_ADDRESS: 'ООО «Пример», Москва, ул. Тверская, 1',
    LOG_LEVEL: 'warn',
    ...env,
  };
}

/** Closes the bed and puts the environment back as it was. */
export async function closeApiBed(bed: Partial<ApiBed>, saved: NodeJS.ProcessEnv): Promise<void> {
  await bed.api?.close();
  await bed.ses?.close();
  await bed.notion?.close();
  await bed.t?.drop();
  process.env = saved;
  resetConfig();
}
