#!/usr/bin/env node
// `npm test` runs this first: the Debian packages in test/prerequisites.txt must be installed.
// As root with apt-get it installs the missing ones; otherwise it stops at once, printing the
// exact apt-get line, so a fresh machine fails in one clear message instead of in many tests.
'use strict'
const { execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const listFile = path.join(__dirname, '..', 'test', 'prerequisites.txt')

/**
 * Package names from the list (comments and blank lines dropped). Lines whose comment starts with
 * [vm] are the VM lane's (`npm run test:vm`, which passes --vm): only that lane installs them.
 */
function wanted(vm) {
  return fs
    .readFileSync(listFile, 'utf8')
    .split('\n')
    .filter((line) => /#\s*\[vm\]/.test(line) === vm)
    .map((line) => line.replace(/#.*/, '').trim())
    .filter(Boolean)
}

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0
}

/** The packages dpkg does not report as installed. */
function missing(packages) {
  // dpkg-query exits non-zero when it knows nothing of a package, but still prints the others.
  const r = spawnSync('dpkg-query', ['-W', '-f=${Package} ${db:Status-Status}\\n', ...packages], { encoding: 'utf8' })
  const installed = new Set(
    r.stdout
      .split('\n')
      .map((l) => l.split(' '))
      .filter(([, status]) => status === 'installed')
      .map(([name]) => name.replace(/:.*/, '')),
  )
  return packages.filter((p) => !installed.has(p))
}

function main() {
  const packages = wanted(process.argv.includes('--vm'))
  if (!has('dpkg-query')) {
    console.warn(`test prerequisites: not a Debian-based system, cannot check packages. The tests need the equivalents of: ${packages.join(' ')}`)
    return
  }
  let absent = missing(packages)
  if (absent.length === 0) return
  const line = `apt-get install -y --no-install-recommends ${absent.join(' ')}`
  if (process.getuid?.() !== 0 || !has('apt-get')) {
    console.error(`The tests need Debian packages that are not installed. Run:\n\n  sudo ${line}\n\n(see test/prerequisites.txt for why each is needed)`)
    process.exit(1)
  }
  console.log(`test prerequisites: installing ${absent.join(' ')}`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  execFileSync('apt-get', ['update', '-q'], { stdio: 'inherit', env })
  execFileSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...absent], { stdio: 'inherit', env })
  absent = missing(packages)
  if (absent.length) {
    console.error(`test prerequisites: still missing after apt-get: ${absent.join(' ')}`)
    process.exit(1)
  }
}

main()
