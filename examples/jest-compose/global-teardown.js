// Runs once after all test files: nothing is left behind.
'use strict'
const { stop } = require('./environment')
const { Runtime } = require('minicontainer')

module.exports = async () => {
  await stop()
  await Runtime.default().close() // the default bridge and its nf_tables table, like docker0 otherwise
}
