// Tests run against the TypeScript sources (ts-jest, transpile only: `npm run build` type-checks).
// Projects: `unit` (*.unit.test.ts: pure logic and plain files, no root, seconds; `npm run test:unit`),
// `kernel` (everything else: real namespaces, mounts, netlink and nf_tables, run as root) and
// `rootless` (test/rootless/as-user/: ordinary jest code whose worker runs as an unprivileged user).
// The rootless project exists only where it can mean what it says: for a caller that is not root, or
// when scripts/test-rootless.js (run by `npm test` after jest) starts jest as the user it made.
const common = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  setupFiles: ['<rootDir>/test/setup.ts'],
}

const asUser = 'test/rootless/as-user/'
// A user's project (test/trial/) with its own jest config, run by test/trial/trial.test.ts.
const userProject = 'test/trial/project/'
const rootlessProject = process.geteuid() !== 0 || process.env.MC_ROOTLESS_PROJECT === '1'

/** @type {import('jest').Config} */
module.exports = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['**/*.unit.test.ts'], testPathIgnorePatterns: [userProject] },
    // globalSetup: native/ rebuilt (incrementally) before the first kernel test, so a stale shim is never tested.
    { ...common, displayName: 'kernel', testMatch: ['**/*.test.ts'], testPathIgnorePatterns: ['\\.unit\\.test\\.ts$', asUser, userProject], globalSetup: '<rootDir>/test/build-native.js' },
    ...(rootlessProject ? [{ ...common, displayName: 'rootless', testMatch: [`**/${asUser}*.test.ts`] }] : []),
  ],
  testTimeout: 60000,
  maxWorkers: 2,
}
