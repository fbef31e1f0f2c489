// A node process that runs minicontainer inside another network namespace (started by
// netns-agent.ts through nsenter). It reads JSON lines { id, code } on stdin, runs `code` as the
// body of an async function (mc = the library, helpers = test/helpers.ts, ctx = an object kept
// between calls, require) and answers { id, value } or { id, error } on stdout.
'use strict'
require('./ts-register') // the library's sources, loaded like every child's (node-child.ts)
const path = require('node:path')
const readline = require('node:readline')

const mc = require(path.join(__dirname, '../../lib'))
const helpers = require(path.join(__dirname, '../helpers'))
const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor
const ctx = {}

const lines = readline.createInterface({ input: process.stdin })
lines.on('line', async (line) => {
  const { id, code } = JSON.parse(line)
  let answer
  try {
    const value = await new AsyncFunction('mc', 'helpers', 'ctx', 'require', code)(mc, helpers, ctx, require)
    answer = { id, value: value === undefined ? null : value }
  } catch (err) {
    answer = { id, error: String(err && err.stack ? err.stack : err), code: err && err.code }
  }
  process.stdout.write(JSON.stringify(answer) + '\n')
})
lines.on('close', () => process.exit(0))
process.stdout.write(JSON.stringify({ ready: true }) + '\n')
