// Tests run against the TypeScript sources (ts-jest, transpile only: `npm run build` type-checks).
// Two projects: `unit` (*.unit.test.ts: pure logic and plain files, no root, seconds; `npm run test:unit`)
// and `kernel` (everything else: real namespaces, mounts, netlink and nf_tables, run as root).
const common = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  setupFiles: ['<rootDir>/test/setup.ts'],
}

/** @type {import('jest').Config} */
module.exports = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['**/*.unit.test.ts'] },
    // globalSetup: native/ rebuilt (incrementally) before the first kernel test, so a stale shim is never tested.
    { ...common, displayName: 'kernel', testMatch: ['**/*.test.ts'], testPathIgnorePatterns: ['\\.unit\\.test\\.ts$'], globalSetup: '<rootDir>/test/build-native.js' },
  ],
  testTimeout: 60000,
  maxWorkers: 2,
}
