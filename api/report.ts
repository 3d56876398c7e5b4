import { getConfig } from '../lib/config';
import { getDb } from '../lib/db';
import { AppError } from '../lib/errors';
import { handle } from '../lib/http';
import { parseMailoutId } from '../lib/mailout-id';
import { mailoutReportCsv, verifyReportSignature } from '../lib/report';

export const config = { maxDuration: 60 };

/** GET /api/report?mailout_id=…&sig=…: the mailout's per-recipient CSV, failures first (signed link). */
export const GET = handle('report', async (request) => {
  const cfg = getConfig();
  const url = new URL(request.url);
  const raw = url.searchParams.get('mailout_id');
  if (!raw) throw new AppError('bad_request', 'mailout_id is required.');
  // Links are signed over the canonical id; any spelling of the page finds the same report.
  const mailoutId = parseMailoutId(raw);
  if (!verifyReportSignature(cfg.reportSecret, mailoutId, url.searchParams.get('sig'))) {
    throw new AppError('unauthorized', 'The report link is not valid: use the link written on the Notion page.');
  }
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
