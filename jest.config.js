/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
  },
  collectCoverageFrom: ['protocol/src/**/*.ts', 'shared/src/**/*.ts', 'host/src/**/*.ts'],
  coverageReporters: ['text-summary', 'json-summary'],
  testTimeout: 120000,
};
