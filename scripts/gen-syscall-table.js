#!/usr/bin/env node
// Regenerates lib/seccomp/syscall-numbers.json, the system call numbers the seccomp compiler
// uses, from the kernel headers Debian ships:
//   x86_64 and i386: linux-libc-dev (asm/unistd_64.h, asm/unistd_32.h)
//   aarch64:         linux-libc-dev-arm64-cross (asm/unistd.h, which is asm-generic/unistd.h
//                    with arm64's __ARCH_WANT_* choices)
// The C preprocessor resolves each header's conditionals and aliases (__NR_fcntl is
// __NR3264_fcntl on 64-bit), so the table is exactly what a program compiled for that
// architecture sees. A development tool: the library itself never runs a compiler.
//
// Usage: node scripts/gen-syscall-table.js [--out lib/seccomp/syscall-numbers.json]
'use strict'
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const headers = {
  x86_64: { include: ['/usr/include/x86_64-linux-gnu', '/usr/include'], file: 'asm/unistd_64.h', pkg: 'linux-libc-dev' },
  i386: { include: ['/usr/include/x86_64-linux-gnu', '/usr/include'], file: 'asm/unistd_32.h', pkg: 'linux-libc-dev' },
  aarch64: { include: ['/usr/aarch64-linux-gnu/include'], file: 'asm/unistd.h', pkg: 'linux-libc-dev-arm64-cross' },
}

/** Every macro the header defines, after the preprocessor has applied its conditionals. */
function macros(h) {
  const file = h.include.map((dir) => path.join(dir, h.file)).find((f) => fs.existsSync(f))
  if (!file) throw new Error(`${h.file} not found under ${h.include.join(', ')}: apt-get install ${h.pkg}`)
  const out = execFileSync('cc', ['-E', '-dM', '-nostdinc', ...h.include.flatMap((d) => ['-I', d]), file], { encoding: 'utf8' })
  const defs = new Map()
  for (const m of out.matchAll(/^#define (\w+) (.+)$/gm)) defs.set(m[1], m[2].trim())
  return defs
}

/** Resolves a macro to a number: a literal, another macro, or a parenthesised sum of them. */
function evaluate(defs, expr, depth = 0) {
  if (depth > 16) throw new Error(`macro loop at ${expr}`)
  const sum = expr.replace(/[()]/g, '').split('+').map((term) => {
    const t = term.trim()
    if (/^\d+$/.test(t)) return Number(t)
    if (/^0x[0-9a-f]+$/i.test(t)) return Number.parseInt(t, 16)
    if (!defs.has(t)) throw new Error(`undefined macro ${t}`)
    return evaluate(defs, defs.get(t), depth + 1)
  })
  return sum.reduce((a, b) => a + b, 0)
}

/** name -> number for one architecture, sorted by number. */
function table(h) {
  const defs = macros(h)
  const entries = []
  for (const name of defs.keys()) {
    const m = /^__NR_(\w+)$/.exec(name)
    if (!m || m[1] === 'syscalls' || m[1] === 'arch_specific_syscall') continue
    entries.push([m[1], evaluate(defs, defs.get(name))])
  }
  entries.sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]))
  return Object.fromEntries(entries)
}

function packageVersion(pkg) {
  try {
    return execFileSync('dpkg-query', ['-W', '-f', '${Version}', pkg], { encoding: 'utf8' })
  } catch {
    return 'unknown'
  }
}

const outArg = process.argv.indexOf('--out')
const out = outArg > 0 ? process.argv[outArg + 1] : path.join(__dirname, '..', 'lib', 'seccomp', 'syscall-numbers.json')
const result = {
  source: Object.fromEntries(Object.entries(headers).map(([arch, h]) => [arch, `${h.pkg} ${packageVersion(h.pkg)}: ${h.file}`])),
  generatedBy: 'scripts/gen-syscall-table.js',
}
for (const [arch, h] of Object.entries(headers)) result[arch] = table(h)
fs.writeFileSync(out, JSON.stringify(result, null, 1) + '\n')
console.log(`wrote ${out}: ${Object.keys(headers).map((a) => `${a} ${Object.keys(result[a]).length}`).join(', ')}`)
