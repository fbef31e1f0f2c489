// Tests run against the TypeScript sources (ts-jest, transpile only: `npm run build` type-checks).
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  setupFiles: ['<rootDir>/test/setup.ts'],
  testTimeout: 60000,
  maxWorkers: 2,
}
