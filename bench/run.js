#!/usr/bin/env node
// `npm run bench`: figures and ratios against other tools, all measured in the same run.
'use strict'
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { Runtime, Container } = require('../dist')

const sections = { start: require('./start'), seccomp: require('./seccomp'), limits: require('./limits'), files: require('./files'), network: require('./network'), relay: require('./rootless-relay'), 'rootless-start': require('./rootless-start'), expose: require('./expose-host-ports'), images: require('./images'), registry: require('./registry'), harness: require('./harness'), compose: require('./compose'), build: require('./build'), targets: require('./targets') }

async function main() {
  const args = process.argv.slice(2)
  const only = args.filter((a) => !a.startsWith('--'))
  const flags = { breakdown: args.includes('--breakdown') }
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-bench-root-'))
  const runtime = new Runtime({ root })
  console.log(`minicontainer benchmark — ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${os.release()}, Node ${process.version}`)
  try {
    for (const [name, section] of Object.entries(sections)) if (!only.length || only.includes(name)) await section(runtime, flags)
  } finally {
    for (const c of await Container.list({ runtime, all: true })) await c.remove({ force: true }).catch(() => {})
    await runtime.close() // the default bridge and its nf_tables table go with the bench's root
    fs.rmSync(root, { recursive: true, force: true })
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
