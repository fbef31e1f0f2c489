// Runs once before all test files: the compose environment is up and healthy when the first test starts.
'use strict'
const { start } = require('./environment')

module.exports = async () => {
  const t0 = performance.now()
  await start()
  console.log(`\ncompose environment ready in ${(performance.now() - t0).toFixed(0)} ms`)
}
