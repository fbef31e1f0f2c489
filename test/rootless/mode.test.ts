/**
 * Rootless mode's tests that need root to set up, with an ordinary user the
 * test makes (what the user alone sees is in test/rootless/as-user/mode.test.ts):
 * the state directory is refused when someone else could have planted it.
 * Inside a container of ours (Docker's seccomp profile) a rootless start is
 * EUSERNS with the fix.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { run, type Runtime } from '../../lib'
import { resolveRootless } from '../../lib/rootless/mode'
import { nodeScript } from '../tools/node-child'
import { repoRoot } from '../tools/repo-root'
import { makeUnprivilegedUser, type UnprivilegedUser } from '../tools/unprivileged-user'
import { text, useRuntime } from '../helpers'

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
    const body = `const { Runtime, run } = lib()
      const rt = new Runtime({ root: '/tmp/r', rootless: true })
      run('host', ['true'], { runtime: rt }).catch((e) => console.log(JSON.stringify({ code: e.code, message: e.message })))`
    const c = await run('host', ['node', '-e', nodeScript(body)], {
      runtime,
      network: 'none',
      env: ['XDG_RUNTIME_DIR=/tmp'],
      mounts: [{ type: 'bind', source: repoRoot, target: repoRoot, readOnly: true }],
    })
    expect(await c.wait()).toEqual({ exitCode: 0 })
    const r = JSON.parse(await text(c.logs()))
    await c.remove()
    expect(r.code).toBe('EUSERNS')
    expect(r.message).toMatch(/seccomp filter that refuses user namespaces .*\(userns failed with EPERM\)/)
    expect(r.message).toContain('--security-opt seccomp=unconfined --security-opt systempaths=unconfined')
  })
})
