/**
 * `npm run test:deliverability`: the tests under tests/deliverability (SpamAssassin on the
 * golden letters; needs Debian's `spamassassin`). Same transform as `npm test`; no
 * database, so none of its global setup. The main config ignores this folder.
 */
const path = require('node:path');
const base = require('../../jest.config.js');

/** @type {import('jest').Config} */
module.exports = {
  transform: base.transform,
  transformIgnorePatterns: base.transformIgnorePatterns,
  setupFiles: base.setupFiles,
  testEnvironment: 'node',
  rootDir: path.resolve(__dirname, '../..'),
  roots: ['<rootDir>/tests/deliverability'],
  testMatch: ['**/*.test.ts'],
  testTimeout: 120000,
  maxWorkers: 2,
};
