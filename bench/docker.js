// A Docker engine for the bench's Docker rows: the host's when one answers (`docker info`),
// otherwise the private engine of test/tools/docker-engine.ts (dockerd in its own namespaces, so its
// iptables rules never touch the host). Resolves to { label, ok(args), stop(), netns?, socket? } or { skipped: reason };
// `socket` (private engine only) is its API socket, for other clients (DOCKER_HOST=unix://<socket>);
// `netns` (private engine only) is the namespace the engine lives in, whose loopback it reaches.
'use strict'
const fs = require('node:fs')
const path = require('node:path')
const { execFile, spawnSync } = require('node:child_process')

const repo = path.resolve(__dirname, '..')
const helper = path.join(repo, 'test', 'tools', 'docker-engine.ts')

/** `docker args` against the host engine; rejects with stderr unless it exits 0; resolves to trimmed stdout. */
function hostDocker(args, opts = {}) {
  return new Promise((resolve, reject) =>
    execFile('docker', args, { timeout: opts.timeoutMs ?? 600_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      err ? reject(new Error(`docker ${args.join(' ')} failed: ${stderr.trim() || err.message}`)) : resolve(String(stdout).trim()),
    ),
  )
}

async function dockerEngine() {
  if (spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0) return { label: 'host engine', ok: hostDocker, stop: async () => {} }
  if (!fs.existsSync(helper)) return { skipped: 'no engine in the host namespace and no private engine helper (test/tools/docker-engine.ts) in this tree' }
  require(path.join(repo, 'test', 'tools', 'ts-register.js'))
  const { startPrivateDocker } = require(helper)
  try {
    const engine = await startPrivateDocker()
    return { label: 'private engine', ok: engine.ok, stop: engine.stop, netns: engine.netns, socket: engine.socket }
  } catch (err) {
    return { skipped: `no Docker engine can run here: ${err.message.split('\n')[0]}` }
  }
}

module.exports = { dockerEngine }
