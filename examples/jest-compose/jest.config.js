// A jest project whose tests share one compose environment (run as root: `npx jest -c examples/jest-compose/jest.config.js`).
/** @type {import('jest').Config} */
module.exports = {
  rootDir: __dirname,
  testMatch: ['<rootDir>/*.test.js'],
  globalSetup: '<rootDir>/global-setup.js',
  globalTeardown: '<rootDir>/global-teardown.js',
  testEnvironment: 'node',
  testTimeout: 30_000,
  // Inside this repository the package is its own build; in your project `minicontainer` comes from node_modules.
  moduleNameMapper: { '^minicontainer$': '<rootDir>/../../dist/index.js' },
}
