#!/usr/bin/env node
// `npm install` builds the native shim and library from source (see Makefile).
'use strict'
const { execFileSync } = require('node:child_process')
const path = require('node:path')

if (process.platform !== 'linux') {
  console.warn('minicontainer: Linux only; skipping the native build')
  process.exit(0)
}
try {
  execFileSync('make', ['-s', '-C', path.join(__dirname)], { stdio: 'inherit' })
} catch (err) {
  console.error('minicontainer: building native/ failed. Install a C toolchain (Debian: apt-get install build-essential) and run `npm rebuild minicontainer`.')
  process.exit(1)
}
