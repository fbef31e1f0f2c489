// The peer of the harness bench: testcontainers-node driving a private Docker engine
// (test/tools/docker-engine.ts, dockerd in its own namespaces) with images made by `docker import`
// from the host's own files, so nothing is downloaded. Returns { skipped } when it cannot run.
'use strict'
const fs = require('node:fs')
const path = require('node:path')

const helper = path.resolve(__dirname, '..', 'test', 'tools', 'docker-engine.ts')

/** Why the Docker row cannot run here, or undefined. */
function unavailable() {
  if (!fs.existsSync(helper)) return 'the private Docker engine helper (test/tools/docker-engine.ts) is not in this tree'
  try {
    require.resolve('testcontainers')
  } catch {
    return 'the testcontainers package is not installed (npm install)'
  }
  return undefined
}

async function measure(opts) {
  const reason = unavailable()
  if (reason) return { skipped: reason }
  return { skipped: 'the testcontainers peer is not implemented yet' }
}

module.exports = { measure, unavailable }
