/**
 * The deploy test (npm run test:deploy): `vercel build`, then the built functions called over
 * HTTP on Node 22 and the local Node. Slow (the build takes minutes), so not part of npm test.
 */
const base = require('../../jest.config.js');

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  rootDir: require('node:path').resolve(__dirname, '../..'),
  roots: ['<rootDir>/tests/deploy'],
  testPathIgnorePatterns: ['/node_modules/'],
  testTimeout: 10 * 60 * 1000,
  maxWorkers: 1,
};
