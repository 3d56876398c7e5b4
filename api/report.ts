import { getApp } from '../lib/app';
import { handle } from '../lib/http';
import { mailoutReportCsv, verifyReportLink } from '../lib/report';

/** GET /api/report?mailout_id=…&exp=…&sig=…: the mailout's per-recipient CSV, failures first (signed link; expired: 410). */
export const GET = handle('report', async (request) => {
  const app = getApp('report');
  const mailoutId = verifyReportLink(app.config, new URL(request.url).searchParams);
  const { csv } = await mailoutReportCsv(app.db, mailoutId);
  return new Response(csv, {
    status: 200,
    headers: {
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': `attachment; filename="mailout-${mailoutId}.csv"`,
      'cache-control': 'no-store',
    },
  });
});
