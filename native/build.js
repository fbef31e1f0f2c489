#!/usr/bin/env node
// `npm install` step. The package ships prebuilt binaries for linux x64 and arm64
// (native/prebuilt/linux-<arch>/, made by scripts/prebuild.js at pack time): with one for this
// CPU there is nothing to do, and no compiler is needed. Otherwise, and always in a git checkout
// (development) or with MINICONTAINER_BUILD_FROM_SOURCE=1, native/ is built from source into
// native/build/ (see Makefile), which the loader (lib/sys/native-dir.ts) prefers when present.
'use strict'
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

if (process.platform !== 'linux') {
  console.warn('minicontainer: Linux only; skipping the native build')
  process.exit(0)
}
const prebuilt = path.join(__dirname, 'prebuilt', `linux-${process.arch}`)
const hasPrebuilt = ['mc-shim', 'libmcnative.so'].every((f) => fs.existsSync(path.join(prebuilt, f)))
const checkout = fs.existsSync(path.join(__dirname, '..', '.git'))
if (hasPrebuilt && !checkout && !process.env.MINICONTAINER_BUILD_FROM_SOURCE) process.exit(0)
try {
  execFileSync('make', ['-s', '-C', path.join(__dirname)], { stdio: 'inherit' })
} catch {
  const why = hasPrebuilt ? '' : `there are no prebuilt binaries for linux-${process.arch} (only x64 and arm64), and `
  console.error(`minicontainer: ${why}building native/ failed. Install a C toolchain (Debian: apt-get install build-essential) and run \`npm rebuild minicontainer\`.`)
  process.exit(1)
}
