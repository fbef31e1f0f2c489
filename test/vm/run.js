#!/usr/bin/env node
// `npm run test:vm`: boots Debian 12's own kernel (package linux-image-amd64, 6.1) in qemu once per
// cgroup layout and runs the kernel-facing tests of that layout (test/vm/layouts.json) inside it as
// root. The guest shares the host's / read-only over 9p under a tmpfs overlay (test/vm/init.sh), so
// it runs the host's node, tools and this checkout, built here first; its jest exit code comes back
// on the serial console in a marked line. Exits non-zero when a layout fails or times out.
//
//   npm run test:vm                         every layout
//   npm run test:vm -- --layout v2          one layout (v2, nsroot, v1)
//   npm run test:vm -- --layout v1 test/x.test.ts   chosen test files instead of the layout's list
//   npm run test:vm -- --kernel ubuntu2204  another kernel (test/vm/kernels.json: debian12, the
//                                           default; ubuntu2204, 5.15; debian11, 5.10)
//
// Environment: MC_VM_ACCEL=kvm|tcg skips the KVM probe; MC_VM_CACHE (default
// /var/cache/minicontainer-vm) keeps the extracted kernel; MC_VM_TIMEOUT_MIN bounds each boot (default 30: the v2 layout took 18 of its former 20 minutes under TCG in CI).
// This is a test tool: unlike the library it runs programs (qemu, apt-get, dpkg-deb, busybox).
'use strict'
const { execFileSync, spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const checkout = path.resolve(__dirname, '..', '..')
const cacheDir = process.env.MC_VM_CACHE || '/var/cache/minicontainer-vm'
const layouts = JSON.parse(fs.readFileSync(path.join(__dirname, 'layouts.json'), 'utf8'))
const kernels = JSON.parse(fs.readFileSync(path.join(__dirname, 'kernels.json'), 'utf8'))
/** Modules the initramfs loads to reach the host's root: virtio's PCI transport, 9p over it, overlay. */
const bootModules = ['virtio_pci', '9pnet_virtio', '9p', 'overlay']
const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => fs.existsSync(p))

function sh(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { encoding: 'utf8', ...opts })
}

/** The Debian packages the lane needs (test/prerequisites.txt, the lines marked [vm]), installed as `npm test` installs its own. */
function ensurePrerequisites() {
  sh(process.execPath, [path.join(checkout, 'scripts', 'test-prerequisites.js'), '--vm'], { stdio: 'inherit' })
}

/** The versioned kernel package behind Debian's linux-image-amd64, e.g. linux-image-6.1.0-57-amd64. */
function aptKernelPackage(meta) {
  const deps = sh('apt-cache', ['depends', meta])
  const name = /Depends: (linux-image-[0-9][^\s]*)/.exec(deps)?.[1]
  if (!name) throw new Error(`apt-cache knows no ${meta} kernel (run apt-get update):\n${deps}`)
  return name
}

/**
 * Fetches pinned packages of another distribution's kernel (test/vm/kernels.json) into `dir`, each
 * checked against its SHA-256 (these archives are not signed with a key this host has).
 */
async function fetchPinnedDebs(debs, dir) {
  for (const { url, mirrors = [], sha256 } of debs) {
    // A release that leaves the archive moves to its mirror (Debian's archive.debian.org).
    let res
    for (const from of [url, ...mirrors]) if ((res = await fetch(from)).ok) break
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status} there and on its mirrors (update test/vm/kernels.json)`)
    const body = Buffer.from(await res.arrayBuffer())
    const got = require('node:crypto').createHash('sha256').update(body).digest('hex')
    if (got !== sha256) throw new Error(`${url}: SHA-256 ${got}, not the pinned ${sha256}`)
    fs.writeFileSync(path.join(dir, path.basename(url)), body)
  }
}

/**
 * The kernel and its module tree, extracted (never installed: the host's /boot stays as it is) into
 * the cache, with modules.dep made by busybox's depmod.
 */
async function kernelTree(name) {
  const spec = kernels[name]
  const pkg = spec.apt ? aptKernelPackage(spec.apt) : path.basename(spec.debs[0].url, '.deb')
  const dir = path.join(cacheDir, pkg)
  if (!fs.existsSync(path.join(dir, 'done'))) {
    fs.rmSync(dir, { recursive: true, force: true })
    fs.mkdirSync(dir, { recursive: true })
    if (spec.apt) sh('apt-get', ['download', pkg], { cwd: dir, stdio: 'inherit' })
    else await fetchPinnedDebs(spec.debs, dir)
    for (const deb of fs.readdirSync(dir).filter((f) => f.endsWith('.deb'))) {
      sh('dpkg-deb', ['-x', deb, 'root'], { cwd: dir })
      fs.rmSync(path.join(dir, deb))
    }
    const kver = fs.readdirSync(path.join(dir, 'root/lib/modules'))[0]
    sh(busybox, ['depmod', '-b', path.join(dir, 'root'), kver])
    fs.writeFileSync(path.join(dir, 'done'), `${kver}\n`)
  }
  const kver = fs.readFileSync(path.join(dir, 'done'), 'utf8').trim()
  return { name, kver, vmlinuz: path.join(dir, 'root/boot', `vmlinuz-${kver}`), modules: path.join(dir, 'root/lib/modules', kver) }
}

/** modules.dep as module name (dashes as underscores) to its file and the files it needs. */
function readModulesDep(modules) {
  const deps = new Map()
  for (const line of fs.readFileSync(path.join(modules, 'modules.dep'), 'utf8').split('\n')) {
    const [file, rest] = line.split(':')
    if (!file || rest === undefined) continue
    deps.set(path.basename(file, '.ko').replace(/-/g, '_'), [file, ...rest.trim().split(/\s+/).filter(Boolean)])
  }
  return deps
}

/** The initramfs: busybox, init.sh as /init, and the boot modules with what they depend on. */
function buildInitramfs(kernel, work) {
  const root = path.join(work, 'initramfs')
  for (const d of ['bin', 'proc', 'sys', 'dev', `lib/modules/${kernel.kver}`]) fs.mkdirSync(path.join(root, d), { recursive: true })
  fs.copyFileSync(busybox, path.join(root, 'bin/busybox'))
  fs.copyFileSync(path.join(__dirname, 'init.sh'), path.join(root, 'init'))
  fs.chmodSync(path.join(root, 'init'), 0o755)
  const deps = readModulesDep(kernel.modules)
  const files = new Set()
  for (const m of bootModules) {
    if (!deps.has(m)) continue // built into this kernel
    for (const f of deps.get(m)) files.add(f)
  }
  for (const f of files) {
    fs.mkdirSync(path.join(root, `lib/modules/${kernel.kver}`, path.dirname(f)), { recursive: true })
    fs.copyFileSync(path.join(kernel.modules, f), path.join(root, `lib/modules/${kernel.kver}`, f))
  }
  fs.copyFileSync(path.join(kernel.modules, 'modules.dep'), path.join(root, `lib/modules/${kernel.kver}/modules.dep`))
  fs.writeFileSync(path.join(root, 'modules.load'), bootModules.filter((m) => deps.has(m)).join('\n') + '\n')
  const list = sh('find', ['.', '-mindepth', '1'], { cwd: root })
  const out = path.join(work, 'initramfs.cpio')
  fs.writeFileSync(out, execFileSync(busybox, ['cpio', '-o', '-H', 'newc'], { cwd: root, input: list, maxBuffer: 1 << 30 }))
  return out
}

/** One qemu boot; resolves with the guest's marked result line (or null) and whether the timeout hit. */
function boot({ accel, kernel, initrd, append, timeoutMs, echo }) {
  const args = [
    '-accel', accel, '-cpu', accel === 'kvm' ? 'host' : 'max', '-m', '4096', '-smp', '2',
    '-nodefaults', '-display', 'none', '-no-reboot', '-serial', 'stdio', '-nic', 'none',
    '-kernel', kernel.vmlinuz, '-initrd', initrd,
    // no_timer_check: under TCG on a busy host the kernel's early check of the IO-APIC timer can miss
    // its ticks and panic ("IO-APIC + timer doesn't work!"), as it did at load 20.
    '-append', `console=ttyS0 panic=-1 loglevel=3 no_timer_check ${append}`,
    '-virtfs', 'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap',
  ]
  return new Promise((resolve) => {
    const qemu = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'inherit'] })
    let result = null
    let timedOut = false
    let pending = ''
    const timer = setTimeout(() => { timedOut = true; qemu.kill('SIGKILL') }, timeoutMs)
    qemu.stdout.on('data', (chunk) => {
      if (echo) process.stdout.write(chunk)
      pending += chunk.toString('utf8')
      const lines = pending.split('\n')
      pending = lines.pop()
      for (const l of lines) {
        const m = /^(MC-VM-RESULT (\d+)|MC-VM-PROBE-OK)/.exec(l.replace(/\r$/, ''))
        if (m) result = m[2] ?? 'probe'
      }
    })
    qemu.on('close', () => { clearTimeout(timer); resolve({ result, timedOut }) })
  })
}

/** KVM when it boots this kernel to the initramfs within 20 s (nested guests may hang), TCG otherwise. */
async function chooseAccel(kernel, initrd) {
  if (process.env.MC_VM_ACCEL) return process.env.MC_VM_ACCEL
  try {
    fs.accessSync('/dev/kvm', fs.constants.R_OK | fs.constants.W_OK)
  } catch {
    return 'tcg'
  }
  const probe = await boot({ accel: 'kvm', kernel, initrd, append: 'mc.probe', timeoutMs: 20_000, echo: false })
  return probe.result === 'probe' ? 'kvm' : 'tcg,thread=multi'
}

function parseArgs(argv) {
  let only = null
  let kernel = 'debian12'
  const files = []
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--layout') only = argv[++i]
    else if (argv[i] === '--kernel') kernel = argv[++i]
    else files.push(argv[i])
  }
  if (only && !layouts[only]) throw new Error(`unknown layout ${only}: one of ${Object.keys(layouts).join(', ')}`)
  if (!kernels[kernel]) throw new Error(`unknown kernel ${kernel}: one of ${Object.keys(kernels).join(', ')}`)
  return { names: only ? [only] : Object.keys(layouts), files, kernel }
}

/** jest's cache, filled on the host and read by the guest (through the overlay: its writes stay in the guest). */
const jestCache = path.join(cacheDir, 'jest-cache')

/**
 * Compiles the test files and what they import into jest's cache on the host, where it takes seconds:
 * under TCG ts-jest took over 4 minutes per boot. A test name that matches nothing loads every file
 * but runs no test and no hook.
 */
function primeJestCache(files) {
  const jest = path.join(checkout, 'node_modules', '.bin', 'jest')
  const nothing = ['--testNamePattern', '^MC-VM-PRIME-RUNS-NO-TEST$']
  const kernel = files.filter((f) => !isRootless(f))
  const rootless = files.filter(isRootless)
  if (kernel.length) sh(process.execPath, [jest, '--selectProjects', 'kernel', '--cacheDirectory', jestCache, ...nothing, ...kernel], { cwd: checkout, stdio: 'ignore' })
  // The rootless project's files run through scripts/test-rootless.js, which keeps its own cache (lent to its user).
  const env = { ...process.env, MC_ROOTLESS_PROJECT: '1' }
  if (rootless.length) sh(process.execPath, [jest, '--selectProjects', 'rootless', '--cacheDirectory', rootlessJestCache, ...nothing, ...rootless], { cwd: checkout, stdio: 'ignore', env })
}

/** Files of the rootless jest project (run as a user: test/vm/guest-jest.js). */
const isRootless = (file) => file.includes('test/rootless/as-user/')
const rootlessJestCache = path.join(checkout, 'node_modules', '.cache', 'minicontainer-rootless-jest')

/**
 * Fills the transpile cache of the tests' child Node processes (test/tools/ts-register.js) with the
 * whole library, so that a child owner in the guest starts in seconds, not after loading typescript.
 */
function primeChildCache() {
  sh(process.execPath, ['-r', path.join(checkout, 'test/tools/ts-register.js'), '-e', `require(${JSON.stringify(path.join(checkout, 'lib'))})`], { cwd: checkout })
}

/** The command the guest runs (test/vm/guest-jest.js: jest, and the rootless project as a user): in band, the primed cache, slow-machine timeouts; a handle left open must not hold the guest until the boot's timeout. */
function jestArgs(files, accel) {
  const timeout = accel === 'kvm' ? 120_000 : 600_000
  // Waits inside tests (test/helpers.ts timeScale) stretch under emulation; the bounds they assert do not.
  const options = ['--runInBand', '--ci', '--forceExit', '--cacheDirectory', jestCache, `--testTimeout=${timeout}`]
  return ['env', `MC_TEST_TIME_SCALE=${accel === 'kvm' ? 1 : 5}`, 'node', 'test/vm/guest-jest.js', ...options, '--', ...files]
}

async function main() {
  const { names, files, kernel: kernelName } = parseArgs(process.argv.slice(2))
  ensurePrerequisites()
  sh(process.execPath, [path.join(checkout, 'native', 'build.js')], { stdio: 'inherit' })
  const kernel = await kernelTree(kernelName)
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-vm-'))
  try {
    const initrd = buildInitramfs(kernel, work)
    const accel = await chooseAccel(kernel, initrd)
    console.log(`test:vm: kernel ${kernel.kver} (${kernels[kernelName].description}), accelerator ${accel}`)
    const timeoutMs = Number(process.env.MC_VM_TIMEOUT_MIN || 30) * 60_000
    const summary = []
    const testsOf = (name) => (files.length ? files : layouts[name].tests)
    primeJestCache([...new Set(names.flatMap(testsOf))])
    primeChildCache()
    for (const name of names) {
      const runFile = path.join(work, `${name}.args`)
      fs.writeFileSync(runFile, jestArgs(testsOf(name), accel).join('\n') + '\n')
      const append = `mc.layout=${name} mc.checkout=${checkout} mc.modules=${kernel.modules} mc.run=${runFile} ${layouts[name].cmdline}`
      const started = Date.now()
      console.log(`test:vm: layout ${name}: ${layouts[name].description}`)
      const { result, timedOut } = await boot({ accel, kernel, initrd, append, timeoutMs, echo: true })
      const secs = Math.round((Date.now() - started) / 1000)
      const ok = result === '0'
      summary.push(`${name}: ${ok ? 'passed' : timedOut ? 'TIMED OUT' : `FAILED (guest result ${result ?? 'none'})`} in ${secs} s`)
    }
    console.log(`\ntest:vm on ${kernel.kver} (${accel}):\n  ${summary.join('\n  ')}`)
    process.exitCode = summary.every((l) => / passed /.test(l)) ? 0 : 1
  } finally {
    fs.rmSync(work, { recursive: true, force: true })
  }
}

main().catch((e) => {
  console.error(`test:vm: ${e.stack || e}`)
  process.exit(2)
})
