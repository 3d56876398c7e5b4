import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { canTraverse } from '../../scripts/db/embedded';

/**
 * Which folders the user Postgres runs as can enter decides where its binaries and data go
 * (see scripts/db/embedded.ts; the whole path is tested in tests/e2e/private-clone.test.ts).
 */
const me = { uid: process.getuid!(), gid: process.getgid!() };
const stranger = { uid: me.uid + 4242, gid: me.gid + 4242 };
let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'traverse-'));
  fs.mkdirSync(path.join(dir, 'open', 'inner'), { recursive: true });
  fs.chmodSync(path.join(dir, 'open'), 0o755);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('a folder made by mkdtemp (0700) closes everything below it to other users, not to its owner', () => {
  expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
  expect(canTraverse(path.join(dir, 'open', 'inner'), stranger)).toBe(false);
  expect(canTraverse(path.join(dir, 'open', 'inner'), me)).toBe(true);
});

test('once every folder on the way may be entered by others, another user can reach it', () => {
  fs.chmodSync(dir, 0o711);
  expect(canTraverse(path.join(dir, 'open', 'inner'), stranger)).toBe(true);
  fs.chmodSync(path.join(dir, 'open'), 0o750);
  expect(canTraverse(path.join(dir, 'open', 'inner'), stranger)).toBe(false);
  // The group's bit counts for a member of the folder's group.
  expect(canTraverse(path.join(dir, 'open', 'inner'), { uid: stranger.uid, gid: fs.statSync(path.join(dir, 'open')).gid })).toBe(true);
});

test('a path that does not exist cannot be reached', () => {
  expect(canTraverse(path.join(dir, 'missing', 'x'), me)).toBe(false);
});
