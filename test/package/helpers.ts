/**
 * The package as a user gets it: packed from a copy of the repo (so the
 * test leaves the working tree alone), installed into a temp project offline
 * with install scripts disabled, and run on a PATH holding only node.
 */
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

import { repoRoot } from '../tools/repo-root'

/** Not copied: what a checkout does not hold or what packing makes. */
const notCopied = new Set(['node_modules', '.git', 'dist', 'docs', 'coverage', 'native/build', 'native/prebuilt'])

/** The absolute path of a program on PATH; throws (the test fails) naming the Debian package when missing. */
export function tool(name: string, debianPackage: string): string {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const file = path.join(dir, name)
    if (dir && fs.existsSync(file)) return file
  }
  throw new Error(`this test needs ${name}: apt-get install ${debianPackage}`)
}

/** npm's own script, run with node directly so that PATH need not hold npm. */
export function npmCli(): string {
  return fs.realpathSync(tool('npm', 'npm'))
}

/** Copies the repo (without build output) to dir, with node_modules linked to the repo's. */
function copyRepo(dir: string): void {
  fs.cpSync(repoRoot, dir, {
    recursive: true,
    filter: (src) => !notCopied.has(path.relative(repoRoot, src)),
  })
  fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(dir, 'node_modules'))
}

/** Runs `npm pack` (prepack: tsc, then scripts/prebuild.js) on a copy of the repo; returns the tarball's path in `work`. */
export function packRepo(work: string): string {
  const copy = path.join(work, 'repo')
  copyRepo(copy)
  execFileSync(process.execPath, [npmCli(), 'pack', '--pack-destination', work, '--silent'], { cwd: copy, stdio: ['ignore', 'ignore', 'pipe'] })
  const [tarball] = fs.readdirSync(work).filter((f) => f.endsWith('.tgz'))
  if (!tarball) throw new Error(`npm pack wrote no tarball in ${work}`)
  return path.join(work, tarball)
}

/** A directory whose only program is node: no gcc, cc, make, nor anything else. */
export function nodeOnlyBin(work: string): string {
  const bin = path.join(work, 'bin')
  fs.mkdirSync(bin)
  fs.symlinkSync(process.execPath, path.join(bin, 'node'))
  return bin
}

/**
 * A temp project with the tarball installed by `npm install --ignore-scripts
 * --offline` on PATH=bin. Its lockfile takes the repo's locked versions of the
 * package's dependencies, so npm finds every tarball in its cache (filled by
 * the repo's `npm ci`) and needs no network.
 */
export function installTarball(work: string, tarball: string, bin: string): string {
  const project = path.join(work, 'project')
  fs.mkdirSync(project)
  const lock = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> }
  const packages: Record<string, unknown> = { '': { name: 'mc-pack-test' } }
  for (const [key, entry] of Object.entries(lock.packages)) if (key && !entry.dev) packages[key] = entry
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'mc-pack-test', private: true }))
  fs.writeFileSync(path.join(project, 'package-lock.json'), JSON.stringify({ name: 'mc-pack-test', lockfileVersion: 3, requires: true, packages }))
  execFileSync(process.execPath, [npmCli(), 'install', '--ignore-scripts', '--offline', '--no-audit', '--no-fund', '--silent', tarball], {
    cwd: project,
    env: { PATH: bin, HOME: process.env.HOME ?? os.homedir(), ...(process.env.npm_config_cache ? { npm_config_cache: process.env.npm_config_cache } : {}) },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  return project
}

/**
 * The same program as CommonJS and as an ES module: import the host's
 * programs, run one container without a network, print its exit and output
 * as JSON, and remove the container and the runtime root.
 */
export function writeUsers(project: string): { cjs: string; mjs: string } {
  const body = (hostname: string) => `
const runtime = new Runtime({ root: fs.mkdtempSync(path.join(os.tmpdir(), 'mc-pack-run-')) })
try {
  await Image.fromHost({ runtime })
  const c = await run('host', ['sh', '-c', 'echo hi from $(hostname)'], { runtime, hostname: '${hostname}', network: 'none' })
  const exit = await c.wait()
  let output = ''
  for await (const chunk of c.logs()) output += chunk
  await c.remove()
  console.log(JSON.stringify({ exit, output }))
} finally {
  fs.rmSync(runtime.root, { recursive: true, force: true })
}`
  const cjs = path.join(project, 'user.cjs')
  const mjs = path.join(project, 'user.mjs')
  fs.writeFileSync(cjs, `const { run, Image, Runtime } = require('minicontainer')\nconst fs = require('node:fs'), os = require('node:os'), path = require('node:path')\n;(async () => {${body('from-require')}\n})()\n`)
  fs.writeFileSync(mjs, `import { run, Image, Runtime } from 'minicontainer'\nimport fs from 'node:fs'\nimport os from 'node:os'\nimport path from 'node:path'\n${body('from-import')}\n`)
  return { cjs, mjs }
}
