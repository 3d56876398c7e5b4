/**
 * `npm run test:browser`: the tests under tests/browser, in headless Chromium (Debian's
 * `chromium`, or CHROMIUM_PATH) driven by playwright-core. Same transform and the same
 * throw-away Postgres as `npm test`; the main config ignores this folder.
 */
const path = require('node:path');
const base = require('../../jest.config.js');

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  rootDir: path.resolve(__dirname, '../..'),
  roots: ['<rootDir>/tests/browser'],
  testPathIgnorePatterns: ['/node_modules/'],
  testTimeout: 60000,
};
