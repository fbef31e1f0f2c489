#!/usr/bin/env node
// Builds the prebuilt native binaries the package ships (npm pack/publish run it as `prepack`):
// native/prebuilt/linux-<arch>/{mc-shim,libmcnative.so} for x64 and arm64, with Debian's
// compilers for each (gcc and gcc-aarch64-linux-gnu). Each target is built twice, the second
// time from a copy of the sources in another directory, and the bytes must be the same:
// the binaries are reproducible, so anyone can rebuild and compare them.
// `--clean` removes native/prebuilt (npm's postpack: the repo itself runs what native/build.js built).
'use strict'
const { execFileSync } = require('node:child_process')
const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const nativeDir = path.join(__dirname, '..', 'native')
const prebuiltDir = path.join(nativeDir, 'prebuilt')
/** process.arch -> the GNU triple of Debian's compiler for it. */
const targets = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' }
const files = ['mc-shim', 'libmcnative.so']
// Fixed flags: no debug info (smaller, and nothing path-dependent), symbols stripped.
const flags = ['CFLAGS=-O2', 'LDFLAGS=-s', 'CPPFLAGS=']

function build(srcDir, outDir, triple) {
  try {
    execFileSync('make', ['-s', '-B', '-C', srcDir, `CC=${triple}-gcc`, `OUT=${outDir}`, ...flags], { stdio: 'inherit' })
  } catch {
    const pkgs = triple.startsWith('x86_64') ? 'gcc make' : `gcc-${triple} libc6-dev-${triple === 'aarch64-linux-gnu' ? 'arm64' : triple}-cross make`
    throw new Error(`building native/ with ${triple}-gcc failed; on Debian/Ubuntu: apt-get install ${pkgs}`)
  }
}

/** A copy of native/'s sources in a temp directory, to check the build does not depend on where it runs. */
function copySources() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-prebuild-'))
  for (const name of fs.readdirSync(nativeDir))
    if (/\.(c|h)$|^Makefile$/.test(name)) fs.copyFileSync(path.join(nativeDir, name), path.join(dir, name))
  return dir
}

const sha256 = (file) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex')

function prebuild() {
  fs.rmSync(prebuiltDir, { recursive: true, force: true })
  const copy = copySources()
  try {
    for (const [arch, triple] of Object.entries(targets)) {
      const out = path.join(prebuiltDir, `linux-${arch}`)
      const again = path.join(copy, 'out', arch)
      build(nativeDir, out, triple)
      build(copy, again, triple)
      for (const f of files) {
        const [a, b] = [sha256(path.join(out, f)), sha256(path.join(again, f))]
        if (a !== b) throw new Error(`linux-${arch}/${f} is not reproducible: ${a} != ${b} when built in ${copy}`)
        console.log(`${a}  linux-${arch}/${f}`)
      }
    }
  } catch (err) {
    fs.rmSync(prebuiltDir, { recursive: true, force: true })
    throw err
  } finally {
    fs.rmSync(copy, { recursive: true, force: true })
  }
}

try {
  if (process.argv.includes('--clean')) fs.rmSync(prebuiltDir, { recursive: true, force: true })
  else prebuild()
} catch (err) {
  console.error(`minicontainer: ${err.message}`)
  process.exit(1)
}
