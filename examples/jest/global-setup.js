// Runs once before all test files: the services are ready when the first test starts.
'use strict'
const { startServices } = require('./services')

module.exports = async () => {
  const t0 = performance.now()
  await startServices()
  console.log(`\nredis and nginx ready in ${(performance.now() - t0).toFixed(0)} ms`)
}
