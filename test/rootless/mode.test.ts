/**
 * Rootless mode's first slice, as an ordinary user the test makes: `new
 * Runtime()` picks rootless mode and per-user paths instead of throwing
 * EPERM, images, volumes and containers (network 'none') work, and what is not implemented
 * yet (networks) is a coded EUNSUPPORTED, not a raw EPERM; the state directory is
 * refused when someone else could have planted it. Inside a container of ours
 * (Docker's seccomp profile) a rootless start is EUSERNS with the fix.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { run, type Runtime } from '../../lib'
import { resolveRootless } from '../../lib/rootless/mode'
import { nodeScript } from '../tools/node-child'
import { makeUnprivilegedUser, type UnprivilegedUser } from '../tools/unprivileged-user'
import { text, useRuntime } from '../helpers'

/** A script that opens the default runtime, tries each operation and prints what each gave, as JSON. */
const tryEverything = `;(async () => {
  const { Runtime, Image, Volume, Network, Container, run } = lib()
  const fs = require('node:fs'), path = require('node:path')
  const out = {}
  const step = async (name, f) => { try { out[name] = { ok: await f() ?? true } } catch (e) { out[name] = { code: e.code, message: e.message } } }
  const rt = new Runtime()
  out.runtime = { rootless: rt.rootless, root: rt.root, stateDir: rt.stateDir, stateMode: (fs.statSync(rt.stateDir).mode & 0o777).toString(8) }
  const rootfs = fs.mkdtempSync(path.join(process.env.HOME, 'rootfs-'))
  fs.mkdirSync(path.join(rootfs, 'bin')); fs.writeFileSync(path.join(rootfs, 'bin/x'), 'x')
  await step('fromHost', async () => !!(await Image.fromHost({ runtime: rt })).id)
  await step('import', async () => !!(await Image.import(rootfs, { runtime: rt, ref: 'x:1' })).id)
  await step('images', async () => (await Image.list({ runtime: rt })).length)
  await step('volume', async () => (await Volume.create('v1', { runtime: rt })).name)
  await step('containers', async () => (await Container.list({ runtime: rt, all: true })).length)
  await step('run', async () => { const c = await run('host', ['id'], { runtime: rt, network: 'none' }); const exit = await c.wait(); await c.remove(); return exit })
  await step('network', () => Network.create('n1', { runtime: rt }))
  await step('close', () => rt.close())
  console.log(JSON.stringify(out))
})()`

describe('as an ordinary user', () => {
  let user: UnprivilegedUser
  let home: string
  beforeAll(() => {
    user = makeUnprivilegedUser()
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-rl-home-'))
    fs.chownSync(home, user.uid, user.gid)
  })
  afterAll(() => {
    fs.rmSync(home, { recursive: true, force: true })
    fs.rmSync(`/tmp/minicontainer-${user.uid}`, { recursive: true, force: true })
    user.remove()
  })

  test("new Runtime() is rootless in ~/.local/share/minicontainer and /tmp/minicontainer-<uid>; images, volumes and containers on network 'none' work; networks are EUNSUPPORTED", () => {
    const r = user.node(tryEverything, [], { HOME: home })
    // The user has a subordinate range: containers map it, so no single-id warning (identity.test.ts has that case).
    expect(r.stderr).not.toContain('[MINICONTAINER_SINGLE_UID]')
    const out = JSON.parse(r.stdout)
    expect(out.runtime).toEqual({ rootless: true, root: path.join(home, '.local/share/minicontainer'), stateDir: `/tmp/minicontainer-${user.uid}`, stateMode: '700' })
    expect(fs.statSync(`/tmp/minicontainer-${user.uid}`).uid).toBe(user.uid)
    expect(out).toMatchObject({ fromHost: { ok: true }, import: { ok: true }, images: { ok: 2 }, volume: { ok: 'v1' }, containers: { ok: 0 }, close: { ok: true } })
    expect(out.run).toEqual({ ok: { exitCode: 0 } })
    expect(out.network).toEqual({ code: 'EUNSUPPORTED', message: expect.stringContaining("networks are not implemented yet for rootless containers; run with network: 'none'") })
    // The removed container left no record in the user's store.
    expect(fs.readdirSync(path.join(home, '.local/share/minicontainer/containers')).filter((f) => !f.startsWith('.'))).toEqual([])
  })

  test('$XDG_DATA_HOME and $XDG_RUNTIME_DIR are used when set; $MINICONTAINER_ROOT before both', () => {
    const show = `const rt = new (lib().Runtime)(); console.log(JSON.stringify([rt.root, rt.stateDir]))`
    const xdg = { HOME: home, XDG_DATA_HOME: path.join(home, 'data'), XDG_RUNTIME_DIR: home }
    expect(JSON.parse(user.node(show, [], xdg).stdout)).toEqual([path.join(home, 'data/minicontainer'), path.join(home, 'minicontainer')])
    expect(JSON.parse(user.node(show, [], { ...xdg, MINICONTAINER_ROOT: path.join(home, 'mc') }).stdout)[0]).toBe(path.join(home, 'mc'))
  })

  test("a state directory that is not the user's, or that others can write, is EUNSAFE and nothing is written in it", () => {
    const open = `try { new (lib().Runtime)() } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })) }`
    const state = path.join(home, 'run', 'minicontainer')
    fs.mkdirSync(state, { recursive: true, mode: 0o755 }) // made by root: someone else's
    fs.chmodSync(path.dirname(state), 0o777)
    let r = JSON.parse(user.node(open, [], { HOME: home, XDG_RUNTIME_DIR: path.dirname(state) }).stdout)
    expect(r).toMatchObject({ code: 'EUNSAFE', message: expect.stringContaining(`it belongs to uid 0, not ${user.uid}`) })
    fs.chownSync(state, user.uid, user.gid)
    fs.chmodSync(state, 0o777)
    r = JSON.parse(user.node(open, [], { HOME: home, XDG_RUNTIME_DIR: path.dirname(state) }).stdout)
    expect(r).toMatchObject({ code: 'EUNSAFE', message: expect.stringContaining('its mode 777 lets others write it') })
    expect(fs.readdirSync(state)).toEqual([])
  })

  test('rootless: false without root is EPERM', () => {
    const r = user.node(`try { new (lib().Runtime)({ rootless: false }) } catch (e) { console.log(e.code) }`, [], { HOME: home })
    expect(r.stdout.trim()).toBe('EPERM')
  })
})

test("the rootless option: 'auto' follows the effective uid; anything else but a boolean is EINVALID", () => {
  expect(resolveRootless(undefined, 0)).toBe(false)
  expect(resolveRootless('auto', 1000)).toBe(true)
  expect(resolveRootless(true, 0)).toBe(true)
  expect(() => resolveRootless('yes', 0)).toThrow(expect.objectContaining({ code: 'EINVALID' }))
})

describe('inside a container (Docker default seccomp profile)', () => {
  let runtime: Runtime
  useRuntime((rt) => (runtime = rt))

  test('a rootless start is EUSERNS naming seccomp and the --security-opt fix', async () => {
    const checkout = path.resolve(__dirname, '../..')
    const body = `const { Runtime, run } = lib()
      const rt = new Runtime({ root: '/tmp/r', rootless: true })
      run('host', ['true'], { runtime: rt }).catch((e) => console.log(JSON.stringify({ code: e.code, message: e.message })))`
    const c = await run('host', ['node', '-e', nodeScript(body)], {
      runtime,
      network: 'none',
      env: ['XDG_RUNTIME_DIR=/tmp'],
      mounts: [{ type: 'bind', source: checkout, target: checkout, readOnly: true }],
    })
    expect(await c.wait()).toEqual({ exitCode: 0 })
    const r = JSON.parse(await text(c.logs()))
    await c.remove()
    expect(r.code).toBe('EUSERNS')
    expect(r.message).toMatch(/seccomp filter that refuses user namespaces .*\(userns failed with EPERM\)/)
    expect(r.message).toContain('--security-opt seccomp=unconfined --security-opt systempaths=unconfined')
  })
})
