import { reportUrl, verifyReportLink } from '../../lib/report';
import { linkUrl, sign, verify } from '../../lib/signed-link';
import { testUnsubscribeUrl, unsubscribeUrl, verifyUnsubscribeToken } from '../../lib/unsubscribe';
import { viewUrl } from '../../lib/view';

/**
 * The one link signer (lib/signed-link.ts) behind the view, report and unsubscribe links. The
 * links below were made by the code before there was one signer: letters already in inboxes
 * and report links on Notion pages must keep opening.
 */

const CONFIG = {
  appBaseUrl: 'https://mail.example.com',
  unsubscribeSecret: 'golden-unsubscribe-secret-0123456789',
  reportSecret: 'golden-report-secret-0123456789',
  reportLinkDays: 30,
};
const MAILOUT = '44444444-5555-4666-8777-888888888888';
const SUBSCRIBER = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const DEC_1_2026 = Date.UTC(2026, 11, 1);

const SENT_BEFORE = {
  view: 'https://mail.example.com/api/view?m=44444444-5555-4666-8777-888888888888&sig=pyErVuQ8Wxki4BLCdxn7B-vSQU2UICGAms9rWXopAGQ',
  unsubscribe: 'https://mail.example.com/api/unsubscribe?token=AQobLD1OX0prjH2eDxorPE0.-7DAt526VJpgweBUElwI5wbbXmnPptw22hiYGRgTD40',
  testUnsubscribe:
    'https://mail.example.com/api/unsubscribe?token=AlsiZWRpdG9yQGV4YW1wbGUuY29tIiwiNDQ0NDQ0NDQtNTU1NS00NjY2LTg3NzctODg4ODg4ODg4ODg4Il0.7lYPklpQCb3HsvA6ebJUkN12N2XKnFAKtv4jmQWtyKM',
  report: 'https://mail.example.com/api/report?mailout_id=44444444-5555-4666-8777-888888888888&exp=1798675200&sig=x2eUaqSyuDOiPK1B-9OKCJO5HlZ0A6x5z8jRc-bx6eo',
  reportWithoutExpiry: 'rv_9tfKm7whySsVeb2115fzL6piCs_9djbnQ87dZDbo',
};

test('every kind of link is made exactly as before, so links already sent still open', () => {
  expect(viewUrl(CONFIG, MAILOUT)).toBe(SENT_BEFORE.view);
  expect(unsubscribeUrl(CONFIG, SUBSCRIBER)).toBe(SENT_BEFORE.unsubscribe);
  expect(testUnsubscribeUrl(CONFIG, 'editor@example.com', MAILOUT)).toBe(SENT_BEFORE.testUnsubscribe);
  expect(reportUrl(CONFIG, MAILOUT, DEC_1_2026)).toBe(SENT_BEFORE.report);
  expect(verifyReportLink(CONFIG, new URL(SENT_BEFORE.report).searchParams, DEC_1_2026)).toBe(MAILOUT);
  expect(verifyUnsubscribeToken(CONFIG.unsubscribeSecret, new URL(SENT_BEFORE.unsubscribe).searchParams.get('token'))).toEqual({
    kind: 'subscriber',
    subscriberId: SUBSCRIBER,
  });
  const legacy = new URLSearchParams({ mailout_id: MAILOUT, sig: SENT_BEFORE.reportWithoutExpiry });
  expect(() => verifyReportLink(CONFIG, legacy, DEC_1_2026)).toThrow(/made before report links expired/);
});

test('a signature opens only the purpose, key and parts it was made for', () => {
  const sig = sign('mailout-view:v1', CONFIG.unsubscribeSecret, MAILOUT);
  expect(verify('mailout-view:v1', CONFIG.unsubscribeSecret, sig, MAILOUT)).toBe(true);
  expect(verify('report', CONFIG.unsubscribeSecret, sig, MAILOUT)).toBe(false);
  expect(verify('mailout-view:v1', CONFIG.reportSecret, sig, MAILOUT)).toBe(false);
  expect(verify('mailout-view:v1', CONFIG.unsubscribeSecret, sig, SUBSCRIBER)).toBe(false);
  expect(verify('mailout-view:v1', CONFIG.unsubscribeSecret, `${sig}x`, MAILOUT)).toBe(false);
  expect(verify('mailout-view:v1', CONFIG.unsubscribeSecret, null, MAILOUT)).toBe(false);
});

test('a part with ":" is refused, so "a:b" + "c" and "a" + "b:c" can never share a signature', () => {
  expect(() => sign('report', 's', 'a:b', 'c')).toThrow(/may not contain ":"/);
  expect(sign('report', 's', 'a', 1)).toBe(sign('report', 's', 'a', '1'));
});

test('the URL builder joins the base (trailing slashes dropped), the route and the encoded query', () => {
  expect(linkUrl('https://x.example//', 'view', { m: 'a b', sig: 'c&d' })).toBe('https://x.example/api/view?m=a+b&sig=c%26d');
});
