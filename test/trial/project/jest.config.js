/** @type {import('jest').Config} */
module.exports = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  testMatch: ['**/*.test.ts'],   // not the .js that `npx tsc` writes beside them
  globalTeardown: './test/global-teardown.ts',
  testTimeout: 60_000,
}
