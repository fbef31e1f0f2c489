// jest's global setup for the kernel tests: native/ is rebuilt first (make is incremental: a few
// milliseconds when nothing changed), so a shim older than the sources is never what they test,
// whether jest runs from `npm test` or directly (`npx jest test/x.test.ts`). A failed build fails
// the run with the build's own message.
'use strict'
const { execFileSync } = require('node:child_process')
const path = require('node:path')

module.exports = function buildNative() {
  execFileSync(process.execPath, [path.join(__dirname, '..', 'native', 'build.js')], { stdio: 'inherit' })
}
