import { execFile, type ExecFileException } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildEml } from '../../lib/message';
import { personalise } from '../../lib/render';
import { loadLetter, type LetterOptions } from '../../lib/letter';
import { viewUrl } from '../../lib/view';
import { solidPng } from '../content/fake-storage';

/**
 * `npm run test:deliverability`: the golden letters (Russian and English, long and short)
 * rendered by the one pipeline into the message a subscriber receives, scored by
 * SpamAssassin (Debian's `spamassassin`, its shipped rules, local tests only: no network,
 * no sa-update, Bayes off so that no learned state decides). Only artefacts of a message
 * that has not travelled yet may fire: no Received headers, no relays, and "has HTML".
 * The scores are logged and written to test-artifacts/deliverability/scores.json.
 */

const SPAMASSASSIN = process.env.SPAMASSASSIN_PATH || 'spamassassin';
const LETTERS = path.join(__dirname, 'letters');
const ARTIFACTS = path.resolve(__dirname, '../../test-artifacts/deliverability');
const TRANSPORT_ARTEFACTS = ['NO_RECEIVED', 'NO_RELAYS', 'HTML_MESSAGE'];
const CONFIG = { appBaseUrl: 'https://pismo.primer.ru', unsubscribeSecret: 'deliverability-test-secret-0123456789' };

interface Report {
  score: number;
  rules: Record<string, number>;
  /** The whole message's size (Gmail clips a message past about 102 KB). */
  bytes?: number;
}

let home: string;
const scores: Record<string, Report> = {};

function spamassassin(message: string): Promise<Report> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      SPAMASSASSIN,
      ['-L', '-t', '--cf=use_bayes 0', '--cf=bayes_auto_learn 0', '--cf=dns_available no'],
      { env: { PATH: process.env.PATH, HOME: home, LANG: 'C.UTF-8' }, maxBuffer: 16 * 1024 * 1024 },
      (err: ExecFileException | null, stdout: string, stderr: string) => {
        // `-t` exits 1 for a message judged spam: the report is still on stdout.
        if (err && typeof err.code !== 'number') return reject(err);
        const summary = /Content analysis details:\s+\((-?[\d.]+) points/.exec(stdout);
        if (!summary) return reject(new Error(`SpamAssassin printed no report (exit ${String(err?.code ?? 0)}):\n${stderr.slice(-2000)}`));
        const table = stdout.slice(summary.index);
        const rules: Record<string, number> = {};
        for (const m of table.matchAll(/^\s*(-?\d+(?:\.\d+)?)\s+([A-Z][A-Z0-9_]+)\s/gm)) rules[m[2]!] = Number(m[1]);
        resolve({ score: Number(summary[1]), rules });
      },
    );
    child.stdin!.end(message);
  });
}

/** An image host: every image is a real PNG 1200 × 800 (no network in tests). */
const imageFetch: typeof fetch = async () => new Response(new Uint8Array(solidPng(1200, 800)), { status: 200, headers: { 'content-type': 'image/png' } });

async function message(file: string): Promise<string> {
  const options: LetterOptions = {
    footerAddress: 'ООО «Пример», Бауманская ул., 58/25\\n105005 Москва, Россия',
    listName: file.startsWith('ru') ? 'Журнал «Пример»' : 'Example Magazine',
    viewUrl: (id) => viewUrl(CONFIG, id),
    fetch: imageFetch,
  };
  const loaded = await loadLetter({ kind: 'file', path: path.join(LETTERS, file) }, options);
  expect(loaded.warnings).toEqual([]);
  const unsubscribeUrl = `${CONFIG.appBaseUrl}/api/unsubscribe?token=AeB9c2Vx0K3p8m1Qw7s4Tg.x2Jk9Lm4Np7Qr0St3Uv6Wx9Yz2Ab5Cd8Ef1Gh4Ij7K`;
  const copy = personalise(loaded.letter, { unsubscribeUrl, name: file.startsWith('ru') ? 'Анна' : 'Anna' });
  return buildEml({
    from: { email: 'news@example.com', name: file.startsWith('ru') ? 'Журнал «Пример»' : 'Example Magazine' },
    replyTo: 'editor@example.com',
    to: 'anna.petrova@example.org',
    subject: copy.subject,
    html: copy.html,
    text: copy.text,
    unsubscribeUrl,
    mailoutId: loaded.mailoutId,
  });
}

beforeAll(async () => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'spamassassin-home-'));
  const version = await new Promise<string | null>((resolve) =>
    execFile(SPAMASSASSIN, ['-V'], { env: { PATH: process.env.PATH, HOME: home } }, (err, stdout) => resolve(err ? null : stdout)),
  );
  if (!version) {
    throw new Error(
      `SpamAssassin is not installed (no "${SPAMASSASSIN}" on PATH): install it with \`apt-get update && apt-get install -y spamassassin\` (Debian/Ubuntu), or set SPAMASSASSIN_PATH. CI (.ci/run) installs it.`,
    );
  }
});

afterAll(() => {
  fs.rmSync(home, { recursive: true, force: true });
  if (Object.keys(scores).length === 0) return;
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  fs.writeFileSync(path.join(ARTIFACTS, 'scores.json'), `${JSON.stringify(scores, null, 2)}\n`);
  process.stdout.write(
    `SpamAssassin scores (required 5.0): ${Object.entries(scores)
      .map(([name, r]) => `${name} ${r.score.toFixed(1)} [${Object.keys(r.rules).join(',')}] ${((r.bytes ?? 0) / 1024).toFixed(1)} KB`)
      .join('; ')}\n`,
  );
});

test.each(['ru-short.md', 'ru-long.md', 'en-short.md', 'en-long.md'])(
  '%s: SpamAssassin finds nothing but the marks of a message that has not travelled yet',
  async (file) => {
    const eml = await message(file);
    const report = await spamassassin(eml);
    scores[file.replace(/\.md$/, '')] = { ...report, bytes: Buffer.byteLength(eml) };
    expect({ file, rules: Object.keys(report.rules).filter((r) => !TRANSPORT_ARTEFACTS.includes(r)) }).toEqual({ file, rules: [] });
    expect(report.score).toBeLessThanOrEqual(0);
  },
);

test('the check is live: a preheader coloured like the background (an old mistake) is caught as HTML_FONT_LOW_CONTRAST', async () => {
  const eml = await message('en-short.md');
  const html = eml.split(/\r\n--=_mailout_[0-9a-f]+\r\nContent-Type: text\/html; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n/)[1]!.split('\r\n--=_mailout_')[0]!;
  const decoded = Buffer.from(html.replace(/\r\n/g, ''), 'base64').toString('utf8');
  const coloured = decoded.replace('mso-hide:all">', 'mso-hide:all;color:#f4f4f2">');
  expect(coloured).not.toBe(decoded);
  const tampered = eml.replace(html, (Buffer.from(coloured, 'utf8').toString('base64').match(/.{1,76}/g) ?? []).join('\r\n'));
  const report = await spamassassin(tampered);
  expect(report.rules).toHaveProperty('HTML_FONT_LOW_CONTRAST');
});
