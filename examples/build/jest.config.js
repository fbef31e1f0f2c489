// A jest project that builds its service from examples/build/Dockerfile (run as root: `npx jest -c examples/build/jest.config.js`).
/** @type {import('jest').Config} */
module.exports = {
  rootDir: __dirname,
  testMatch: ['<rootDir>/*.test.js'],
  testEnvironment: 'node',
  testTimeout: 60_000,
  // Inside this repository the package is its own build; in your project `minicontainer` comes from node_modules.
  moduleNameMapper: { '^minicontainer$': '<rootDir>/../../dist/index.js' },
}
