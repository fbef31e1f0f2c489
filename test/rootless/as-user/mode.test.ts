/**
 * Rootless mode as the user sees it (issue 19, moved from test/rootless/mode.test.ts, whose
 * remaining tests need root to set up): `new Runtime()` picks rootless mode and per-user paths,
 * images, volumes, containers on network 'none' and networks (in the runtime's namespace) work,
 * the environment's paths are used in their order, and `rootless: false` is EPERM.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Container, Image, Network, Runtime, Volume, run } from '../../../lib'
import { withEnv } from './env'

describe('rootless mode, as an unprivileged user', () => {
  let home: string
  beforeEach(() => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-rl-mode-'))
  })
  afterEach(() => fs.rmSync(home, { recursive: true, force: true }))
  const uid = process.geteuid!()

  test("new Runtime() is rootless in ~/.local/share/minicontainer and /tmp/minicontainer-<uid>; images, volumes, containers on network 'none' and networks work", async () => {
    await withEnv({ HOME: home, XDG_DATA_HOME: undefined, XDG_RUNTIME_DIR: undefined, MINICONTAINER_ROOT: undefined }, async () => {
      // jest's sandboxed process does not see the real one's 'warning' events: watch the call itself.
      const warnings = jest.spyOn(process, 'emitWarning')
      const rt = new Runtime()
      try {
        expect(uid).not.toBe(0)
        expect([rt.rootless, rt.root, rt.stateDir]).toEqual([true, path.join(home, '.local/share/minicontainer'), `/tmp/minicontainer-${uid}`])
        const state = fs.statSync(rt.stateDir!)
        expect([state.uid, (state.mode & 0o777).toString(8)]).toEqual([uid, '700'])
        const rootfs = fs.mkdtempSync(path.join(home, 'rootfs-'))
        fs.mkdirSync(path.join(rootfs, 'bin'))
        fs.writeFileSync(path.join(rootfs, 'bin/x'), 'x')
        await Image.fromHost({ runtime: rt })
        await Image.import(rootfs, { runtime: rt, ref: 'x:1' })
        expect(await Image.list({ runtime: rt })).toHaveLength(2)
        expect((await Volume.create('v1', { runtime: rt })).name).toBe('v1')
        const c = await run('host', ['id', '-u'], { runtime: rt, network: 'none' })
        expect(await c.wait()).toEqual({ exitCode: 0 })
        await c.remove()
        // The runner's user has a subordinate range: containers map it, so no single-id warning (identity.test.ts has that case).
        expect(warnings.mock.calls.map(([, opts]) => (opts as { code?: string }).code)).toEqual([])
        expect(await Container.list({ runtime: rt, all: true })).toEqual([])
        // Networks live in the runtime's own namespace (test/rootless/network.test.ts has the rest).
        const n1 = await Network.create('n1', { runtime: rt })
        expect(n1.name).toBe('n1')
        await n1.remove()
        // The removed container left no record in the user's store.
        expect(fs.readdirSync(path.join(rt.root, 'containers')).filter((f) => !f.startsWith('.'))).toEqual([])
      } finally {
        warnings.mockRestore()
        // Layer files of the subordinate range can only be removed through the runtime's user namespace.
        await rt.close({ removeRoot: true })
      }
    })
  })

  test('$XDG_DATA_HOME and $XDG_RUNTIME_DIR are used when set; $MINICONTAINER_ROOT before both', async () => {
    const xdg = { HOME: home, XDG_DATA_HOME: path.join(home, 'data'), XDG_RUNTIME_DIR: home, MINICONTAINER_ROOT: undefined }
    await withEnv(xdg, () => {
      const rt = new Runtime()
      expect([rt.root, rt.stateDir]).toEqual([path.join(home, 'data/minicontainer'), path.join(home, 'minicontainer')])
    })
    await withEnv({ ...xdg, MINICONTAINER_ROOT: path.join(home, 'mc') }, () => expect(new Runtime().root).toBe(path.join(home, 'mc')))
  })

  test('rootless: false without root is EPERM', () => {
    expect(() => new Runtime({ root: home, rootless: false })).toThrow(expect.objectContaining({ code: 'EPERM' }))
  })
})
