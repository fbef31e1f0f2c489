// Runs once after all test files: nothing is left behind.
'use strict'
const { stopServices } = require('./services')
const { Runtime } = require('minicontainer')

module.exports = async () => {
  await stopServices()
  await Runtime.default().close() // the default bridge and its nf_tables table, like docker0 otherwise
}
