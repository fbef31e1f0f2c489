/**
 * Removal: atomic for every reader, safe against a shim still writing into
 * the container's directory, and off the start path (rm: true).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { Container, ContainerNotFoundError, Image, Runtime, run, Wait } from '../../lib'
import { childProcesses, commandLine, tempRuntime, text, useRuntime } from '../helpers'
import { nodeOutput, runtimeWithSpareShim, spawnNode } from '../tools/node-child'
import { holdFileLock } from '../tools/flock-holder'
import { holdAt } from '../tools/strace'

let runtime: Runtime
useRuntime((r) => (runtime = r))

test('removing a container while another process keeps writing into its directory never fails and leaves no half container', async () => {
  for (let i = 0; i < 5; i++) {
    const c = await Container.create('host', ['true'], { runtime, name: `racing-${i}` })
    const dir = path.join(runtime.root, 'containers', c.id)
    // A writer standing in for a dying shim writing its exit file (write tmp + rename), as fast as it can.
    const writer = spawn('sh', ['-c', `while :; do echo 0 > "${dir}/exit.tmp" 2>/dev/null && mv "${dir}/exit.tmp" "${dir}/exit" 2>/dev/null; done`])
    await new Promise((r) => setTimeout(r, 30))
    await c.remove({ force: true })
    writer.kill('SIGKILL')
    await new Promise((r) => writer.once('exit', r))
    expect(fs.existsSync(dir)).toBe(false)
    expect((await Container.list({ runtime, all: true })).map((x) => x.name)).not.toContain(`racing-${i}`)
    await expect(Container.get(`racing-${i}`, { runtime })).rejects.toMatchObject({ code: 'ENOCONTAINER' })
  }
})

test('rm: true — wait() resolves with the container gone; its files are deleted in the background', async () => {
  const c = await run('host', ['sh', '-c', 'dd if=/dev/zero of=/big bs=1M count=20 2>/dev/null'], { runtime, rm: true, name: 'auto-rm' })
  expect(await c.wait()).toEqual({ exitCode: 0 })
  expect(fs.existsSync(path.join(runtime.root, 'containers', c.id))).toBe(false)
  await expect(Container.get('auto-rm', { runtime })).rejects.toMatchObject({ code: 'ENOCONTAINER' })
  const trash = path.join(runtime.root, 'trash')
  for (let i = 0; i < 100 && fs.readdirSync(trash).length; i++) await new Promise((r) => setTimeout(r, 20))
  expect(fs.readdirSync(trash)).toEqual([])
})

test('what a process that exits right after a removal leaves in trash/ is deleted by the next runtime', async () => {
  const trash = path.join(runtime.root, 'trash')
  fs.mkdirSync(path.join(trash, 'deadbeef.1.2/upper/deep'), { recursive: true })
  fs.writeFileSync(path.join(trash, 'deadbeef.1.2/upper/deep/file'), 'x')
  const next = new Runtime({ root: runtime.root })
  await next.ready()
  expect(fs.readdirSync(trash)).toEqual([])
  await next.close()
})

test("a name whose file cannot be moved into the removed container's trash entry is freed all the same", async () => {
  const c = await Container.create('host', ['true'], { runtime, name: 'unmovable-name' })
  // A directory where the name's file would go: the rename fails (EISDIR), the unlink frees the name.
  fs.mkdirSync(path.join(runtime.root, 'containers', c.id, 'released-name', 'full'), { recursive: true })
  await c.remove()
  expect(fs.existsSync(path.join(runtime.root, 'names', 'unmovable-name'))).toBe(false)
  const again = await Container.create('host', ['true'], { runtime, name: 'unmovable-name' })
  await again.remove()
})

test("remove() whose name's release meets the names' lock held 5 s by another process: ESYSCALL, the container gone, its name still taken; remove() again frees it", async () => {
  const c = await Container.create('host', ['true'], { runtime, name: 'held-names-lock' })
  const nameFile = path.join(runtime.root, 'names', 'held-names-lock')
  const held = await holdFileLock(path.join(runtime.root, 'names', '.lock'))
  try {
    await expect(c.remove()).rejects.toMatchObject({ code: 'ESYSCALL', errno: 'ETIMEDOUT' })
    await expect(Container.get(c.id, { runtime })).rejects.toMatchObject({ code: 'ENOCONTAINER' })
    expect(fs.readFileSync(nameFile, 'utf8')).toBe(c.id)
  } finally {
    await held.release()
  }
  await c.remove()
  expect(fs.existsSync(nameFile)).toBe(false)
})

/** Whether `pid` is a process that has not exited (not a zombie). */
function liveProcess(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return false
  }
}

async function until<T>(get: () => T | undefined, ms = 10_000): Promise<T> {
  for (const t0 = Date.now(); Date.now() - t0 < ms; await new Promise((r) => setTimeout(r, 20))) {
    const v = get()
    if (v !== undefined) return v
  }
  throw new Error(`not within ${ms} ms`)
}

/**
 * A fresh process (so that its pool's spare shim is its only shim) that starts container `name` on
 * `go()`, with strace holding the spare shim at its first `syscall` for `delayMs` (`follow`: its
 * container child too). `result()` is what the start ended with: "started" or "failed <code>: <message>".
 */
async function heldStart(name: string, syscall: string, delayMs: number, follow: boolean, nth = 1) {
  const starter = spawnNode(
    `const { Container, Runtime, run } = lib();
    (async () => {
      ${runtimeWithSpareShim(runtime.root)}
      console.log('ready')
      process.stdin.once('data', () =>
        Container.get(${JSON.stringify(name)}, { runtime }).then((c) => c.start()).then(
          () => console.log('started'),
          (err) => console.log('failed ' + err.code + ': ' + err.message),
        ),
      )
    })()`,
    { stdio: ['pipe', 'pipe', 'inherit'] },
  )
  let out = ''
  starter.stdout!.on('data', (d) => (out += String(d)))
  let tracer: ChildProcess | undefined
  const stop = () => {
    tracer?.kill('SIGKILL')
    starter.kill('SIGKILL')
  }
  try {
    await until(() => out.includes('ready') || undefined, 30_000)
    // Its run shims, not the zygote that forks them.
    const shims = childProcesses(starter.pid!).filter(([pid, comm]) => comm === 'mc-shim' && commandLine(pid).startsWith('mc-shim run'))
    expect(shims).toHaveLength(1)
    const spare = shims[0][0]
    tracer = await holdAt(spare, syscall, delayMs, { follow, nth })
    starter.stdin!.write('go\n')
    return { spare, stop, result: () => until(() => /(started|failed .*)\n/.exec(out)?.[1], 20_000) }
  } catch (err) {
    stop()
    throw err
  }
}

test('a container removed while another process is starting it: the start fails with ENOCONTAINER, not with the step the removal broke', async () => {
  // What chaos.js met: a remove({ force }) from another process between the start making the cgroup
  // and the container joining it made the start fail with ESTART 'join cgroup' (ENODEV). strace holds
  // the container child's first write, its cgroup join, for 1.5 s.
  const c = await Container.create('host', ['sleep', '60'], { runtime, network: 'none', name: 'removed-mid-start' })
  const held = await heldStart('removed-mid-start', 'write', 1500, true)
  try {
    // The container child appears under the shim and is held in its first write (joining its cgroup). Not
    // the spare's old-root helper, there before any spec: the removal would then come before the start.
    await until(() => (childProcesses(held.spare).some(([, comm]) => comm !== 'mc-old-root') ? true : undefined))
    await c.remove({ force: true })
    expect(await held.result()).toMatch(/^failed ENOCONTAINER: .*removed while it was starting/)
    expect(fs.existsSync(path.join(runtime.root, 'containers', c.id))).toBe(false)
  } finally {
    held.stop()
    await Container.get('removed-mid-start', { runtime }).then((x) => x.remove({ force: true })).catch(() => {})
  }
})

test('a container removed once its program runs but before the start took note: ENOCONTAINER, and the program does not run on', async () => {
  // chaos.js: 'ESYSCALL run: open .../state.json failed: ENOENT', the state written into a directory a
  // remove() elsewhere had just taken, and the program went on running. strace holds the shim's first
  // sendto, its "S <pid>" (the program has exec'd), for 2 s.
  const c = await Container.create('host', ['sleep', '60'], { runtime, network: 'none', name: 'removed-at-report' })
  const held = await heldStart('removed-at-report', 'sendto', 2000, false)
  try {
    const [program] = await until(() => childProcesses(held.spare).find(([, comm]) => comm === 'sleep'))
    await c.remove({ force: true })
    expect(await held.result()).toMatch(/^failed ENOCONTAINER: .*removed while it was starting/)
    // Killed with its shim (its PDEATHSIG): gone, or a zombie until whoever adopted it reaps it.
    expect(await until(() => (liveProcess(program) ? undefined : true), 2000)).toBe(true)
  } finally {
    held.stop()
  }
})

test('a create whose process died half-way leaves nothing once a new runtime recovers, at once; one under way elsewhere stays', async () => {
  // chaos.js left 'containers/<id> holding [upper]' after an owner was SIGKILLed inside create(): a
  // directory without a config was kept 60 s in case another process was still creating it.
  const dead = spawnSync('true').pid!
  const containers = path.join(runtime.root, 'containers')
  const left = path.join(containers, `.creating-${'a'.repeat(64)}-${dead}`)
  const underWay = path.join(containers, `.creating-${'b'.repeat(64)}-${process.pid}`)
  for (const d of [left, underWay]) fs.mkdirSync(path.join(d, 'upper'), { recursive: true })
  try {
    expect((await Container.list({ runtime, all: true })).map((c) => c.id)).not.toContain('a'.repeat(64))
    // A fresh process: recovery runs once per process.
    nodeOutput(`const { Runtime } = lib(); new Runtime({ root: ${JSON.stringify(runtime.root)} }).ready().then(() => process.exit(0))`)
    expect(fs.existsSync(left)).toBe(false)
    expect(fs.existsSync(underWay)).toBe(true)
  } finally {
    fs.rmSync(underWay, { recursive: true, force: true })
  }
})

describe('a removed container answers for itself', () => {
  test('wait() after remove({ force: true }) of a running program: 137 (its SIGKILL) on the handle that saw it, ENOCONTAINER on one that did not', async () => {
    const c = await run('host', ['sleep', '1000'], { runtime, network: 'none', name: 'force-removed-wait' })
    const other = await Container.get('force-removed-wait', { runtime })
    await c.remove({ force: true })
    expect(await c.wait()).toEqual({ exitCode: 137, signal: 'SIGKILL' })
    await expect(other.wait()).rejects.toBeInstanceOf(ContainerNotFoundError)
    await expect(other.wait()).rejects.toMatchObject({ code: 'ENOCONTAINER' })
  })

  test('the handle that removed it knows the exit too, and a wait() in flight during the removal gets 137', async () => {
    const started = await run('host', ['sleep', '1000'], { runtime, network: 'none', name: 'force-removed-other' })
    const remover = await Container.get('force-removed-other', { runtime })
    const waiting = started.wait()
    await remover.remove({ force: true })
    expect(await waiting).toEqual({ exitCode: 137, signal: 'SIGKILL' })
    expect(await remover.wait()).toEqual({ exitCode: 137, signal: 'SIGKILL' })
  })

  test('stop(), kill() and update() on a removed container are ENOCONTAINER (ContainerNotFoundError), running or not when removed', async () => {
    const running = await run('host', ['sleep', '1000'], { runtime, network: 'none' })
    const created = await Container.create('host', ['true'], { runtime, network: 'none' })
    await running.remove({ force: true })
    await created.remove()
    for (const c of [running, created]) {
      await expect(c.stop()).rejects.toBeInstanceOf(ContainerNotFoundError)
      await expect(c.stop({ timeout: 0 })).rejects.toMatchObject({ code: 'ENOCONTAINER' })
      await expect(c.kill()).rejects.toMatchObject({ code: 'ENOCONTAINER' })
      await expect(c.update({ memory: '64m' })).rejects.toBeInstanceOf(ContainerNotFoundError)
    }
  })
})

describe('rm: true removes the container as wait() answers, and its files after', () => {
  /** The trash entries of container `id` (its files, until they are deleted). */
  const trashOf = (root: string, id: string) => fs.readdirSync(path.join(root, 'trash')).filter((e) => e.startsWith(id))

  /** A running rm: true container of `rt` whose shim strace holds at its exit for `delayMs` once the program ends. */
  async function heldTeardown(rt: Runtime, name: string, script: string, delayMs: number) {
    const c = await run('host', ['sh', '-c', `${script}; echo ready; exec sleep 1000`], { runtime: rt, network: 'none', rm: true, name })
    await c.waitFor(Wait.forLogMessage('ready'))
    const shimPid = rt.shims.get(c.id)!.shimPid
    // The shim's last system call: it has reported the exit, written its exit file and let go of the
    // container's mount namespace; held there, it stands for a slow teardown.
    const tracer = await holdAt(shimPid, 'exit_group', delayMs, { follow: false })
    return { c, shimPid, tracer }
  }

  test('wait() answers while the shim is still tearing down: the name is free at once, get() and list() no longer see it, logs() kept; the files go once the shim is gone', async () => {
    const { c, shimPid, tracer } = await heldTeardown(runtime, 'rm-early', 'echo bye', 3000)
    try {
      await c.kill()
      expect(await c.wait()).toEqual({ exitCode: 137, signal: 'SIGKILL' })
      expect(liveProcess(shimPid)).toBe(true)
      expect(fs.existsSync(path.join(runtime.root, 'containers', c.id))).toBe(false)
      expect((await Container.list({ runtime, all: true })).map((x) => x.name)).not.toContain('rm-early')
      await expect(Container.get('rm-early', { runtime })).rejects.toMatchObject({ code: 'ENOCONTAINER' })
      expect(await text(c.logs())).toBe('bye\nready\n')
      // A run of the same name goes ahead at once.
      const next = await run('host', ['true'], { runtime, network: 'none', rm: true, name: 'rm-early' })
      expect(await next.wait()).toEqual({ exitCode: 0 })
      // The shim may still write into the container's directory: its files wait for it.
      expect(liveProcess(shimPid)).toBe(true)
      expect(trashOf(runtime.root, c.id)).toHaveLength(1)
    } finally {
      tracer.kill('SIGKILL')
    }
    await until(() => (liveProcess(shimPid) ? undefined : true))
    await until(() => (trashOf(runtime.root, c.id).length ? undefined : true))
  })

  test("the name's file is not unlinked before wait() answers: it moves into the container's trash entry and goes with its files", async () => {
    const { c, shimPid, tracer } = await heldTeardown(runtime, 'rm-name-file', 'true', 1500)
    const nameFile = path.join(runtime.root, 'names', 'rm-name-file')
    const { ino } = fs.statSync(nameFile)
    try {
      await c.kill()
      await c.wait()
      expect(liveProcess(shimPid)).toBe(true)
      expect(fs.existsSync(nameFile)).toBe(false)
      await expect(Container.get(c.id, { runtime })).rejects.toMatchObject({ code: 'ENOCONTAINER' })
      // Unlinking a file whose block was written back waits for the device's discard; moved, its block is freed later.
      const [entry] = trashOf(runtime.root, c.id)
      const inTrash = fs.readdirSync(path.join(runtime.root, 'trash', entry)).map((f) => fs.lstatSync(path.join(runtime.root, 'trash', entry, f)).ino)
      expect(inTrash).toContain(ino)
    } finally {
      tracer.kill('SIGKILL')
    }
    await until(() => (trashOf(runtime.root, c.id).length ? undefined : true))
    expect(fs.readdirSync(path.join(runtime.root, 'names'))).not.toContain('rm-name-file')
  })

  test('its writable layer is deleted whole (nested, in a directory of mode 000), its symlinks unlinked, never followed', async () => {
    const host = fs.mkdtempSync(path.join(runtime.root, 'host-dir-'))
    fs.writeFileSync(path.join(host, 'keep'), 'kept')
    const script = [
      'mkdir -p /d/a/b/c /d/e', 'touch /d/a/b/c/f /d/a/f /d/e/f', `ln -s ${host} /d/link`, `ln -s ${host}/keep /d/a/keep`,
      'mkdir /d/locked', 'touch /d/locked/f', 'chmod 000 /d/locked',
    ].join(' && ')
    const c = await run('host', ['sh', '-c', script], { runtime, network: 'none', rm: true })
    expect(await c.wait()).toEqual({ exitCode: 0 })
    await until(() => (trashOf(runtime.root, c.id).length ? undefined : true))
    expect(fs.readdirSync(host)).toEqual(['keep'])
    expect(fs.readFileSync(path.join(host, 'keep'), 'utf8')).toBe('kept')
    fs.rmSync(host, { recursive: true })
  })

  test('a writable layer nested deeper than PATH_MAX is deleted whole', async () => {
    // Two chains of 200 16-character names, one moved into the other's deepest directory: 6,800 bytes
    // of path, beyond the 4,096 a walk by path can name (and a shell's cd can reach).
    const script = 'n=dddddddddddddddd; p=/deep; i=0; while [ $i -lt 200 ]; do p=$p/$n; i=$((i+1)); done; mkdir -p $p /deep2$p && touch $p/f /deep2$p/f && mv /deep2 $p/'
    const c = await run('host', ['sh', '-c', script], { runtime, network: 'none', rm: true })
    expect(await c.wait()).toEqual({ exitCode: 0 })
    await until(() => (trashOf(runtime.root, c.id).length ? undefined : true))
  })

  test('Runtime.close() waits for the files of rm: true containers that wait() answered before deleting', async () => {
    const rt = tempRuntime()
    await Image.fromHost({ runtime: rt })
    // Enough files that deleting them outlasts the rest of close().
    const { c, shimPid, tracer } = await heldTeardown(rt, 'rm-close', 'mkdir /d && cd /d && seq 1 4000 | xargs touch', 1000)
    try {
      await c.kill()
      await c.wait()
      expect(liveProcess(shimPid)).toBe(true)
      await rt.close()
      expect(liveProcess(shimPid)).toBe(false)
      expect(trashOf(rt.root, c.id)).toEqual([])
    } finally {
      tracer.kill('SIGKILL')
      fs.rmSync(rt.root, { recursive: true, force: true })
    }
  })

  test('an owner that dies after wait() answered, before the files were deleted: the next runtime finds no container and no files', async () => {
    const root = tempRuntime().root
    const owner = spawnNode(
      `const { Image, Runtime, run, Wait } = lib();
      (async () => {
        const runtime = new Runtime({ root: ${JSON.stringify(root)} })
        await Image.fromHost({ runtime })
        const c = await run('host', ['sh', '-c', 'echo ready; exec sleep 1000'], { runtime, network: 'none', rm: true, name: 'rm-owner' })
        await c.waitFor(Wait.forLogMessage('ready'))
        console.log(runtime.shims.get(c.id).shimPid + ' ' + c.id)
        process.stdin.once('data', async () => {
          await c.kill()
          await c.wait()
          console.log('waited')
        })
      })()`,
      { stdio: ['pipe', 'pipe', 'inherit'] },
    )
    let out = ''
    owner.stdout!.on('data', (d) => (out += String(d)))
    let tracer: ChildProcess | undefined
    try {
      const [shimPid, id] = (await until(() => /^(\d+) (\w+)\n/.exec(out)?.slice(1), 30_000)).map(String)
      tracer = await holdAt(Number(shimPid), 'exit_group', 2000, { follow: false })
      owner.stdin!.write('go\n')
      await until(() => (out.includes('waited') ? true : undefined))
      owner.kill('SIGKILL')
      expect(trashOf(root, id)).toHaveLength(1) // removed, its files not yet deleted
      const next = new Runtime({ root })
      await next.ready()
      expect((await Container.list({ runtime: next, all: true })).map((x) => x.name)).not.toContain('rm-owner')
      expect(trashOf(root, id)).toEqual([])
      expect(fs.readdirSync(path.join(root, 'names')).filter((f) => f !== '.lock')).toEqual([]) // the name's file went with the trash (.lock: the names' lock)
      await next.close()
    } finally {
      tracer?.kill('SIGKILL')
      owner.kill('SIGKILL')
      fs.rmSync(root, { recursive: true, force: true })
    }
  })
})
