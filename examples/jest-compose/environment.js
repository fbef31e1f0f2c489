// The compose environment every process of this jest run shares: globalSetup starts it, each test
// file gets the same running project (reuse: true with a fixed project name, under the runtime
// root's lock), globalTeardown takes it down. `ports: 'ephemeral'`: the file's fixed host ports
// become free ones, so a second jest run beside this one never clashes; tests ask env.port().
'use strict'
const path = require('node:path')
const { Compose, Image } = require('minicontainer')

/** The running environment (started the first time, found afterwards). */
async function environment() {
  return Compose.up(path.join(__dirname, 'compose.yml'), { projectName: 'jest-compose-example', reuse: true, ports: 'ephemeral', startupTimeout: 30_000 })
}

/** globalSetup: the host image, then the environment, up and healthy. */
async function start() {
  await Image.fromHost({ ref: 'host' })
  return environment()
}

/** globalTeardown: containers, networks and volumes. */
async function stop() {
  await (await environment()).down({ volumes: true })
}

module.exports = { environment, start, stop }
