import {
  toBatchRecipient,
  toBeginDecision,
  toClaimResult,
  toFinishResult,
  toLetterOrigin,
  toMailoutCounts,
  toMailoutState,
  toPendingCount,
  toRecordedResults,
  toRequeueResult,
  toResendWindow,
  toResumeId,
  toStoredLetter,
  toTripAnswer,
} from '../../lib/db/ledger';
import { toReportRow, toUnknownRow } from '../../lib/db/report';
import { columns, onlyRow } from '../../lib/db/rows';
import { toSubscriberChange } from '../../lib/db/subscribers';

/**
 * Every SQL answer row goes through one mapper, which converts what either adapter gives (pg:
 * Date objects, bigint as a string; PostgREST: timestamps as JSON strings) and refuses a bad
 * value naming the function and the column. The rows are shaped as the functions' RETURNS
 * TABLE in supabase/sql-functions.sql.
 */

const AT = '2026-12-03T10:00:00.123+00:00';
const AT_DATE = new Date(AT);
const SUBSCRIBER = '0b8d2f8e-3c1a-4c57-9a43-7a8f3c2d1e00';
const MAILOUT = '1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b';
const TOKEN = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';

interface Case {
  name: string;
  map: (row: Record<string, unknown>) => unknown;
  good: Record<string, unknown>;
  expected: unknown;
  /** A change to the good row that makes it bad, and the message that names the fault. */
  bad: Record<string, unknown>;
  error: RegExp;
}

const cases: Case[] = [
  {
    name: 'toClaimResult (claim_mailout)',
    map: toClaimResult,
    good: { outcome: 'claimed', mailout_id: MAILOUT, status: 'sending', lease_token: TOKEN, lease_until: AT, recipients: '3', queued: 3, unknown: 0, last_error: null, content: { subject: 'Hi' } },
    expected: { outcome: 'claimed', mailoutId: MAILOUT, status: 'sending', leaseToken: TOKEN, leaseUntil: AT_DATE, recipients: 3, queued: 3, unknown: 0, lastError: null, content: { subject: 'Hi' } },
    bad: { outcome: 'grabbed' },
    error: /^claim_mailout: column outcome is a string, expected one of claimed, resumed, already_sent, in_progress, no_letter\.$/,
  },
  {
    name: 'toBatchRecipient (claim_batch)',
    map: toBatchRecipient,
    good: { subscriber_id: SUBSCRIBER, email: 'a@example.com', name: null },
    expected: { subscriberId: SUBSCRIBER, email: 'a@example.com', name: null },
    bad: { email: undefined },
    error: /^claim_batch: column email is missing, expected text\.$/,
  },
  {
    name: 'toRecordedResults (record_results)',
    map: toRecordedResults,
    good: { recorded: 2, requeued: '1' },
    expected: { recorded: 2, requeued: 1 },
    bad: { recorded: -1 },
    error: /^record_results: column recorded is a number, expected a whole number ≥ 0\.$/,
  },
  {
    name: 'toMailoutCounts (mailout_counts)',
    map: toMailoutCounts,
    good: { recipients: '9007199254740991', queued: 1, sending: 0, sent: 5, failed: 1, skipped: 0, unknown: 2 },
    expected: { recipients: 9007199254740991, queued: 1, sending: 0, sent: 5, failed: 1, skipped: 0, unknown: 2 },
    bad: { sent: '12.5' },
    error: /^mailout_counts: column sent is a string, expected a whole number ≥ 0\.$/,
  },
  {
    name: 'toFinishResult (finish_mailout)',
    map: toFinishResult,
    good: { mailout_id: MAILOUT, status: 'sent', recipients: 3, sent: 3, failed: 0, skipped: 0, unknown: 0, queued: 0, sent_at: AT_DATE, last_error: null },
    expected: { mailoutId: MAILOUT, status: 'sent', recipients: 3, sent: 3, failed: 0, skipped: 0, unknown: 0, queued: 0, sentAt: AT_DATE, lastError: null },
    bad: { sent_at: 'yesterday' },
    error: /^finish_mailout: column sent_at is a string, expected a timestamp\.$/,
  },
  {
    name: 'toBeginDecision (begin_sends)',
    map: toBeginDecision,
    good: { subscriber_id: SUBSCRIBER, decision: 'skip' },
    expected: [SUBSCRIBER, 'skip'],
    bad: { decision: 'maybe' },
    error: /^begin_sends: column decision is a string, expected one of send, skip, lost\.$/,
  },
  {
    name: 'toMailoutState (get_mailout)',
    map: toMailoutState,
    good: { id: MAILOUT, subject: 'Hi', status: 'paused', lease_until: null, recipients: 3 },
    expected: { status: 'paused', leaseUntil: null },
    bad: { lease_until: new Date('not a date') },
    error: /^get_mailout: column lease_until is an invalid date, expected a timestamp\.$/,
  },
  {
    name: 'toPendingCount (mailout_pending_count)',
    map: toPendingCount,
    good: { claimed: false, status: null, pending: '42' },
    expected: { claimed: false, status: null, pending: 42 },
    bad: { claimed: 'true' },
    error: /^mailout_pending_count: column claimed is a string, expected a boolean\.$/,
  },
  {
    name: 'toResumeId (mailouts_to_resume)',
    map: toResumeId,
    good: { mailout_id: MAILOUT, lease_until: AT },
    expected: MAILOUT,
    bad: { mailout_id: null },
    error: /^mailouts_to_resume: column mailout_id is null, expected text\.$/,
  },
  {
    name: 'toStoredLetter (mailout_letter)',
    map: toStoredLetter,
    good: { subject: 'Hi', content: { subject: 'Hi', html: '<p>Hi</p>' } },
    expected: { subject: 'Hi', content: { subject: 'Hi', html: '<p>Hi</p>' } },
    bad: { subject: 7 },
    error: /^mailout_letter: column subject is a number, expected text\.$/,
  },
  {
    name: 'toLetterOrigin (mailout_origin)',
    map: toLetterOrigin,
    good: { origin: 'file' },
    expected: 'file',
    bad: { origin: 1 },
    error: /^mailout_origin: column origin is a number, expected text\.$/,
  },
  {
    name: 'toResendWindow (resend_window)',
    map: toResendWindow,
    good: { found: true, status: 'sent', last_activity_at: AT, quiet_until: AT_DATE, ready: false, never_reported: 4 },
    expected: { found: true, status: 'sent', lastActivityAt: AT_DATE, quietUntil: AT_DATE, ready: false, neverReported: 4 },
    bad: { status: 'draft' },
    error: /^resend_window: column status is a string, expected one of sending, paused, sent, failed\.$/,
  },
  {
    name: 'toRequeueResult (requeue_unknown)',
    map: toRequeueResult,
    good: { outcome: 'not_quiet', requeued: 0 },
    expected: { outcome: 'not_quiet', requeued: 0 },
    bad: { requeued: null },
    error: /^requeue_unknown: column requeued is null, expected a whole number ≥ 0\.$/,
  },
  {
    name: 'toSubscriberChange (unsubscribe)',
    map: (row) => toSubscriberChange(row, 'unsubscribe'),
    good: { subscriber_id: SUBSCRIBER, email: 'a@example.com', status: 'unsubscribed', changed: true },
    expected: { subscriberId: SUBSCRIBER, email: 'a@example.com', status: 'unsubscribed', changed: true },
    bad: { status: 'gone' },
    error: /^unsubscribe: column status is a string, expected one of active, unsubscribed, bounced, complained\.$/,
  },
  {
    name: 'toReportRow (mailout_report_page)',
    map: toReportRow,
    good: { subscriber_id: SUBSCRIBER, email: 'a@example.com', status: 'failed', feedback: null, error_code: 'MessageRejected', error_message: 'no', ses_message_id: null, attempts: 1, updated_at: AT },
    expected: { subscriber_id: SUBSCRIBER, email: 'a@example.com', status: 'failed', feedback: null, error_code: 'MessageRejected', error_message: 'no', ses_message_id: null, attempts: 1, updated_at: AT_DATE },
    bad: { status: 'lost' },
    error: /^mailout_report_page: column status is a string, expected one of queued, sending, sent, failed, skipped, unknown\.$/,
  },
  {
    name: 'toUnknownRow (unknown_never_reported)',
    map: toUnknownRow,
    good: { subscriber_id: SUBSCRIBER, email: 'a@example.com', error_code: 'Timeout', updated_at: null },
    expected: { subscriberId: SUBSCRIBER, email: 'a@example.com', errorCode: 'Timeout', updatedAt: null },
    bad: { updated_at: 1733220000000 },
    error: /^unknown_never_reported: column updated_at is a number, expected a timestamp\.$/,
  },
  {
    name: 'toTripAnswer (send_trip)',
    map: toTripAnswer,
    good: { lease_live: true, marked: [SUBSCRIBER], skipped: [], recorded: 2, requeued: '0' },
    expected: { marked: [SUBSCRIBER], skipped: [], recorded: 2, requeued: 0 },
    bad: { marked: [SUBSCRIBER, 7] },
    error: /^send_trip: column marked is an object, expected an array of text\.$/,
  },
];

describe.each(cases)('$name', ({ map, good, expected, bad, error }) => {
  test('converts a good row', () => {
    expect(map(good)).toEqual(expected);
  });
  test('refuses a bad row, naming the function and the column', () => {
    expect(() => map({ ...good, ...bad })).toThrow(error);
  });
});

test('a mapper error never carries the bad value (it may be an address or a lease token)', () => {
  const secret = `${TOKEN}-not-a-count`;
  expect(() => toMailoutCounts({ recipients: secret })).toThrow(expect.objectContaining({ code: 'internal', message: expect.not.stringContaining(TOKEN) }));
});

test('a bigint beyond the exact range of a number is refused, not rounded', () => {
  expect(() => columns('f', { n: '9007199254740993' }).count('n')).toThrow(/^f: column n is a string, expected a whole number ≥ 0\.$/);
});

test('a function that must answer one row and answers none says which', () => {
  expect(() => onlyRow([], 'finish_mailout')).toThrow(/^finish_mailout returned no row\.$/);
});

test("claim_mailout's no_letter answer for an id never claimed has no status (there is no mailout)", () => {
  const row = { outcome: 'no_letter', mailout_id: MAILOUT, status: null, lease_token: null, lease_until: null, recipients: 0, queued: 0, unknown: 0, last_error: 'no letter', content: null };
  expect(toClaimResult(row)).toMatchObject({ outcome: 'no_letter', status: null, leaseToken: null, content: null });
});
