import { getConfig } from '../lib/config';
import { getDb } from '../lib/db';
import { handle } from '../lib/http';
import { mailoutReportCsv, verifyReportLink } from '../lib/report';

export const config = { maxDuration: 60 };

/** GET /api/report?mailout_id=…&exp=…&sig=…: the mailout's per-recipient CSV, failures first (signed link; expired: 410). */
export const GET = handle('report', async (request) => {
  const cfg = getConfig();
  const mailoutId = verifyReportLink(cfg, new URL(request.url).searchParams);
  const { csv } = await mailoutReportCsv(getDb(cfg), mailoutId);
  return new Response(csv, {
    status: 200,
    headers: {
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': `attachment; filename="mailout-${mailoutId}.csv"`,
      'cache-control': 'no-store',
    },
  });
});
