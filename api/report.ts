import { getApp } from '../lib/app';
import { handle } from '../lib/http';
import { openMailoutReport, reportStream, verifyReportLink } from '../lib/report';

/**
 * GET /api/report?mailout_id=…&exp=…&sig=…: the mailout's per-recipient CSV, failures first
 * (signed link; expired: 410), streamed page by page: Vercel refuses a buffered answer over 4.5 MB.
 */
export const GET = handle('report', async (request) => {
  const app = getApp('report');
  const mailoutId = verifyReportLink(app.config, new URL(request.url).searchParams);
  const report = await openMailoutReport(app.ledger, mailoutId);
  return new Response(reportStream(report), {
    status: 200,
    headers: {
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': `attachment; filename="mailout-${mailoutId}.csv"`,
      'cache-control': 'no-store',
    },
  });
});
