#!/usr/bin/env node
// The guest's test command (test/vm/run.js writes it): the kernel project's files with jest as root,
// then the rootless project's (test/rootless/as-user/) through scripts/test-rootless.js, which runs
// them as an unprivileged user it makes in the guest and removes. Exits non-zero when either fails.
//   node test/vm/guest-jest.js <jest options...> -- <test files...>
'use strict'
const { spawnSync } = require('node:child_process')
const path = require('node:path')

const checkout = path.resolve(__dirname, '..', '..')
const split = process.argv.indexOf('--')
const options = process.argv.slice(2, split)
const files = process.argv.slice(split + 1)
const rootless = files.filter((f) => f.includes('test/rootless/as-user/'))
const kernel = files.filter((f) => !rootless.includes(f))

function run(args) {
  const r = spawnSync(process.execPath, args, { cwd: checkout, stdio: 'inherit' })
  return r.status ?? 1
}

let status = 0
if (kernel.length) status = run([path.join(checkout, 'node_modules/.bin/jest'), '--selectProjects', 'kernel', ...options, ...kernel]) || status
// The rootless runner keeps its own jest cache (primed on the host by run.js): options naming a cache are the kernel run's.
const ownCache = options.filter((o, i) => o !== '--cacheDirectory' && options[i - 1] !== '--cacheDirectory')
if (rootless.length) status = run([path.join(checkout, 'scripts/test-rootless.js'), ...ownCache, ...rootless]) || status
process.exitCode = status
