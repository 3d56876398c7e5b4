/**
 * `npm run bench -- webhook`: how long a Notion automation waits for POST /api/send-mailout's
 * answer on a page 60 levels deep, Notion answering each request in 300 ms (goal < 3 s: Notion
 * pauses an automation whose webhook fails or is slow), and how long the send after it takes.
 * The real sender (lib/app.ts) on an embedded Postgres, the SES emulator with a ready sender.
 */
import type { Figure } from '../bench';
import { createApp } from '../../lib/app';
import { loadConfig } from '../../lib/config';
import { startSesEmulator } from '../local/stack';
import { setLogLevel } from '../../lib/log';
import { answerSendRequest } from '../../lib/send';
import { makePage, nestBlocks, checkboxProperty, startFakeNotion, titleProperty } from '../fakes/notion-page';
import { apiBedEnv } from '../fakes/api-bed';
import { seedBenchSubscribers, withBenchDatabase } from '../lib/bench-db';

const LATENCY_MS = 300;
const DEPTH = 60;
const SUBSCRIBERS = 100;

export async function run(): Promise<Figure[]> {
  setLogLevel('error');
  return withBenchDatabase(async (url) => {
    await seedBenchSubscribers(url, SUBSCRIBERS);
    const notion = await startFakeNotion({ latencyMs: LATENCY_MS });
    const ses = await startSesEmulator(0);
    try {
      const db = notion.addDatabase({ title: 'Письма' });
      const page = notion.addPage(makePage({ dataSourceId: db.dataSourceId, properties: { Название: titleProperty('Глубокий выпуск'), Тест: checkboxProperty(false) } }));
      nestBlocks(notion, page.id, DEPTH);
      const bed = { t: { url }, notion, ses, api: { url: 'https://mailout.example.com' } };
      const config = loadConfig(apiBedEnv(bed, 'bench-secret-0123456789abcdef', db.databaseId, { NOTION_TOKEN: 'secret_bench', LOG_LEVEL: 'error' }));
      ses.subscribe(config.appBaseUrl);
      const app = createApp(config, 'send-mailout');
      try {
        const started = Date.now();
        const answer = await answerSendRequest(app.sendDeps({ startedAt: started }), { mailoutId: page.id, fromNotion: true, dryRun: false, continuation: false });
        const answerMs = Date.now() - started;
        const beforeAnswer = notion.requests.length;
        await answer.run?.();
        const doneMs = Date.now() - started;
        const again = Date.now();
        await answerSendRequest(app.sendDeps(), { mailoutId: page.id, fromNotion: true, dryRun: false, continuation: false }).then((r) => r.after);
        const repeatMs = Date.now() - again;
        return [
          {
            name: `webhook answer, ${DEPTH}-level page, Notion ${LATENCY_MS} ms/request`,
            value: answerMs,
            unit: 'ms',
            goal: '< 3000 ms',
            ok: answerMs < 3000 && answer.status === 202,
            note: `${beforeAnswer} Notion request(s) before the answer, HTTP ${answer.status}`,
          },
          { name: `read, render and send ${SUBSCRIBERS} after the answer`, value: doneMs, unit: 'ms', note: `${notion.requests.length} Notion requests in all` },
          { name: 'repeat press: duplicate answer and its note on the page', value: repeatMs, unit: 'ms' },
        ];
      } finally {
        await app.db.close();
      }
    } finally {
      await ses.close();
      await notion.close();
    }
  });
}
