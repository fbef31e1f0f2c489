#!/usr/bin/env node
// The `rootless` jest project (test/rootless/as-user/), run by `npm test` after the main jest run:
// its test files are ordinary jest code (`new Runtime()`, run, ...) whose jest runs, workers
// included, as an unprivileged user this script makes and removes. As root it:
//   1. makes the user with one subordinate range (test/tools/unprivileged-user.ts) and a home in /tmp;
//   2. delegates a cgroup v2 directory to it, as systemd's Delegate=yes does (the directory and its
//      cgroup.procs, cgroup.threads and cgroup.subtree_control chowned), with a child `owner` that
//      jest is started in: moving a process needs write access to the common ancestor, so the
//      user's processes must already sit below the delegated directory (MINICONTAINER_CGROUP);
//   3. runs `setpriv --reuid U ... env -i ... jest --selectProjects rootless` from the checkout (read
//      by others; jest's cache kept between runs in node_modules/.cache, lent to the user for the run).
//      setpriv, not runuser: runuser stays as a root parent in the cgroup it was started in, and a
//      root process in the delegated subtree makes enabling cpuset there EPERM for the user (the
//      kernel checks CAP_SYS_NICE over every task it moves to the new controller: cap_safe_nice);
//      under systemd's delegation every process in the subtree is the user's, as here;
//   4. checks that nothing is left (a process of the user, a cgroup, a mount of its files), then
//      removes the cgroups, the home, the user's state dir and the user (userdel, ranges included).
// Not as root, the user is the caller: jest's rootless project runs directly, as that user.
// Arguments go to jest (files, --testNamePattern, ...). MC_TEST_TIME_SCALE passes through.
'use strict'
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const checkout = path.resolve(__dirname, '..')
const jest = path.join(checkout, 'node_modules', 'jest', 'bin', 'jest.js')
const jestCache = path.join(checkout, 'node_modules', '.cache', 'minicontainer-rootless-jest')
const passedThrough = ['MC_TEST_TIME_SCALE', 'DEBUG']

function main(args) {
  require(path.join(checkout, 'test/tools/ts-register.js'))
  const unsupported = rootlessUnsupportedHere()
  if (unsupported) return unsupported.status
  if (process.getuid() !== 0) return runJest(process.execPath, [jest, '--selectProjects', 'rootless', ...args], process.env)
  const { makeUnprivilegedUser, pidsOf, describePid, killAllOf, rmdirWhenEmpty } = require(path.join(checkout, 'test/tools/unprivileged-user.ts'))
  const { detectUnified } = require(path.join(checkout, 'lib/cgroups/layout.ts'))
  process.on('SIGINT', () => {}) // jest gets it too: clean up once it has ended
  const started = Date.now()
  const user = makeUnprivilegedUser()
  const home = fs.mkdtempSync(path.join(os.tmpdir(), `mc-rootless-${user.name}-`))
  let cgroup
  let status = 1
  const problems = []
  try {
    cgroup = delegateCgroup(detectUnified(), user)
    fs.chownSync(home, user.uid, user.gid)
    lendCache(user.uid, user.gid)
    const env = {
      PATH: '/usr/local/bin:/usr/bin:/bin',
      HOME: home,
      USER: user.name,
      MC_ROOTLESS_PROJECT: '1',
      ...(cgroup ? { MINICONTAINER_CGROUP: cgroup.dir } : { MC_ROOTLESS_NO_CGROUP2: '1' }),
      ...Object.fromEntries(passedThrough.filter((k) => process.env[k]).map((k) => [k, process.env[k]])),
    }
    const command = ['setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--init-groups', '--', 'env', '-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), process.execPath, jest]
    const jestArgs = ['--selectProjects', 'rootless', '--cacheDirectory', jestCache, ...args]
    // Moved as root (a user cannot move a process out of root's cgroup), then the user's from exec on.
    const enter = cgroup ? `echo $$ > ${cgroup.owner}/cgroup.procs && ` : ''
    console.log(`test:rootless: as ${user.name} (uid ${user.uid}, subordinate ids ${user.subids.start}+65536)${cgroup ? `, MINICONTAINER_CGROUP=${cgroup.dir}` : ', no cgroup v2 to delegate'}; set up in ${Date.now() - started} ms`)
    status = runJest('sh', ['-c', `${enter}exec "$@"`, 'sh', ...command, ...jestArgs], process.env)
    problems.push(...leftovers(user, home, pidsOf, describePid))
  } finally {
    reclaimCache()
    try {
      killAllOf(user.uid, user.gid) // what is left dies first, so that its cgroups can go
      problems.push(...removeCgroup(cgroup, rmdirWhenEmpty)) // before remove(), which would take them unreported
    } finally {
      user.remove()
    }
    for (const dir of [home, `/tmp/minicontainer-${user.uid}`]) fs.rmSync(dir, { recursive: true, force: true })
  }
  for (const p of problems) console.error(`test:rootless: left behind: ${p}`)
  return problems.length ? 1 : status
}

/**
 * On a kernel that lacks what a rootless runtime needs (Debian 11's 5.10: overlay in a user namespace
 * came in 5.11), every file of the project would fail at `new Runtime()`: the project does not run,
 * says why, and checks instead that the library refuses a rootless runtime here with EUNSUPPORTED.
 */
function rootlessUnsupportedHere() {
  const { hostKernelRelease, missingKernelFeature, requireKernelFeatures } = require(path.join(checkout, 'lib/sys/kernel.ts'))
  const missing = missingKernelFeature(hostKernelRelease, true)
  if (!missing) return undefined
  console.log(`test:rootless: not run on ${hostKernelRelease}: a rootless runtime needs ${missing.feature}, Linux ${missing.since} or later`)
  try {
    requireKernelFeatures({ rootless: true })
  } catch (e) {
    if (e.code === 'EUNSUPPORTED' && e.since === missing.since) return { status: 0 }
    console.error(`test:rootless: the library refused a rootless runtime here otherwise than with EUNSUPPORTED (Linux ${missing.since}): ${e.stack}`)
    return { status: 1 }
  }
  console.error(`test:rootless: the library accepted a rootless runtime on ${hostKernelRelease}, which lacks ${missing.feature}`)
  return { status: 1 }
}

/** Runs a command with the terminal, returning its exit status. */
function runJest(cmd, args, env) {
  const r = spawnSync(cmd, args, { cwd: checkout, stdio: 'inherit', env })
  if (r.error) throw r.error
  return r.status ?? 1
}

/** A cgroup v2 directory delegated to the user, with `owner` for its processes; undefined without a cgroup2 mount. */
function delegateCgroup(unified, user) {
  if (!unified) return undefined
  const name = `mc-rootless-${user.name}`
  const dir = path.join(unified.mountPoint, name)
  const owner = path.join(dir, 'owner')
  for (const d of [dir, owner]) {
    fs.mkdirSync(d)
    // What systemd chowns for Delegate=yes: the directory and the files that create, move and delegate.
    for (const f of ['', 'cgroup.procs', 'cgroup.threads', 'cgroup.subtree_control']) fs.chownSync(path.join(d, f), user.uid, user.gid)
  }
  return { dir, owner }
}

/**
 * Removes the delegated directory; a runtime's cgroup the tests left in it is reported. The
 * directories jest's processes sat in are not leftovers: `owner`, and `init` in it, where the
 * library moves them when the directory holding them must enable controllers.
 */
function removeCgroup(cgroup, rmdirWhenEmpty) {
  if (!cgroup || !fs.existsSync(cgroup.dir)) return []
  const left = []
  const remove = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) remove(path.join(dir, e.name))
    if (/\/minicontainer-[^/]+/.test(dir.slice(cgroup.dir.length))) left.push(`cgroup ${dir}`)
    rmdirWhenEmpty(dir)
  }
  remove(cgroup.dir)
  return left
}

/** What a clean run leaves of the user: no process, no mount of its files. */
function leftovers(user, home, pidsOf, describePid) {
  // What dies with jest's exit (a keeper or relay whose owner was a worker) may take a moment to be gone.
  const deadline = Date.now() + 2000
  while (pidsOf(user.uid).length && Date.now() < deadline) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20)
  const left = pidsOf(user.uid).map((pid) => `process of ${user.name}: ${describePid(pid)}`)
  const state = `/tmp/minicontainer-${user.uid}`
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n'))
    if (line.includes(home) || line.includes(state)) left.push(`mount ${line}`)
  return left
}

/** jest's cache, kept between runs, is the user's for the run (a fresh one costs seconds of ts-jest compiling). */
function lendCache(uid, gid) {
  fs.mkdirSync(jestCache, { recursive: true })
  chownTree(jestCache, uid, gid)
}

/** Gives the cache back to root. */
function reclaimCache() {
  if (fs.existsSync(jestCache)) chownTree(jestCache, 0, 0)
}

function chownTree(dir, uid, gid) {
  fs.chownSync(dir, uid, gid)
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) chownTree(p, uid, gid)
    else fs.lchownSync(p, uid, gid)
  }
}

process.exitCode = main(process.argv.slice(2))
