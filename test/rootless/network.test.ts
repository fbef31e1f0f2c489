/**
 * Rootless networks (issue 19), as ordinary users the test makes: the
 * keeper holds the runtime's network namespace inside its user namespace
 * (lo up, nothing else, not the host's); without a subordinate range a
 * network is EUNSUPPORTED saying why; close() leaves nothing running.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { makeUnprivilegedUser, pidsOf, type UnprivilegedUser } from '../tools/unprivileged-user'

/** A script run as the user: `rt` (a rootless runtime), `keepers()`, `step(name, f)`, and `out` printed as JSON at the end. */
function script(body: string): string {
  return `;(async () => {
  const { Runtime, Network } = lib()
  const fs = require('node:fs')
  const keepers = () => fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p)).filter((p) => {
    try { return fs.readFileSync('/proc/' + p + '/cmdline', 'latin1').startsWith('mc-shim\\0keeper\\0') } catch { return false }
  }).map(Number)
  const out = {}
  const step = async (name, f) => { try { out[name] = await f() } catch (e) { out[name] = { code: e.code, message: e.message } } }
  const rt = new Runtime()
  try {
    ${body}
  } finally {
    await rt.close()
  }
  console.log(JSON.stringify(out))
})()`
}

function asUser(user: UnprivilegedUser, home: string, body: string): Record<string, any> {
  const r = user.node(script(body), [], { HOME: home })
  if (r.status !== 0) throw new Error(`the user's script failed (${r.status}): ${r.stderr}`)
  return JSON.parse(r.stdout)
}

describe('rootless networks, as an ordinary user with a subordinate range', () => {
  let user: UnprivilegedUser
  let home: string
  beforeAll(() => {
    user = makeUnprivilegedUser()
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-rl-net-'))
    fs.chownSync(home, user.uid, user.gid)
  })
  afterAll(() => {
    for (const dir of [home, `/tmp/minicontainer-${user.uid}`]) fs.rmSync(dir, { recursive: true, force: true })
    user.remove()
  })

  test("the keeper holds the runtime's network namespace, in its user namespace, with lo up and nothing else", () => {
    const out = asUser(
      user,
      home,
      `const ns = rt.userIds.networkNamespace('test')
    out.again = rt.userIds.networkNamespace('test')
    out.ns = ns
    out.keepers = keepers()
    out.netns = fs.readlinkSync(ns.netnsPath)
    out.userns = fs.readlinkSync(ns.usernsPath)
    out.ownNetns = fs.readlinkSync('/proc/self/ns/net')
    out.ownUserns = fs.readlinkSync('/proc/self/ns/user')
    const { openNetnsNetlink } = lib('network/netns-sockets')
    const nl = await openNetnsNetlink(ns.netnsPath)
    out.links = (await nl.rtnl.links()).map((l) => [l.name, l.up])
    nl.close()`,
    )
    expect(out.keepers).toHaveLength(1)
    expect(out.ns).toEqual({ netnsPath: `/proc/${out.keepers[0]}/ns/net`, usernsPath: `/proc/${out.keepers[0]}/ns/user` })
    expect(out.again).toEqual(out.ns)
    expect(out.netns).not.toBe(out.ownNetns)
    expect(out.userns).not.toBe(out.ownUserns)
    expect(out.links).toEqual([['lo', true]])
    expect(pidsOf(user.uid)).toEqual([])
  })
})

describe('rootless networks, as an ordinary user without a subordinate range', () => {
  let user: UnprivilegedUser
  let home: string
  beforeAll(() => {
    user = makeUnprivilegedUser({ subids: false })
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-rl-net1-'))
    fs.chownSync(home, user.uid, user.gid)
  })
  afterAll(() => {
    for (const dir of [home, `/tmp/minicontainer-${user.uid}`]) fs.rmSync(dir, { recursive: true, force: true })
    user.remove()
  })

  test('a network is EUNSUPPORTED naming the missing subordinate range and the fix; no keeper is left', () => {
    const out = asUser(user, home, `await step('create', () => Network.create('n1', { runtime: rt }))`)
    expect(out.create.code).toBe('EUNSUPPORTED')
    expect(out.create.message).toMatch(/cannot create network n1 in a rootless runtime: rootless networks need a subordinate id range \(.*\); add one with .*usermod --add-subuids/)
    expect(pidsOf(user.uid)).toEqual([])
  })
})
