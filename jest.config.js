/** Jest: TypeScript through SWC (independent of the TypeScript compiler's version). */
const swc = [
  '@swc/jest',
  {
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
  },
];

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests'],
  testMatch: ['**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/tests/browser/', '<rootDir>/tests/deliverability/', '<rootDir>/tests/deploy/'],
  transform: { '^.+\\.(t|j|mj)s$': swc },
  // ESM-only packages are compiled to CommonJS for Jest's module registry.
  transformIgnorePatterns: ['/node_modules/(?!(marked)/)'],
  setupFiles: ['<rootDir>/tests/setup/quiet-logs.ts'],
  globalSetup: '<rootDir>/tests/setup/global-setup.ts',
  globalTeardown: '<rootDir>/tests/setup/global-teardown.ts',
  // A hang still fails; a test slowed by a busy machine (two cores shared with other work) does not.
  testTimeout: 120000,
  maxWorkers: 2,
};
