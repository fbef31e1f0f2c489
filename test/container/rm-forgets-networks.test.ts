/**
 * `rm: true` removes what remove() does: the networks a created container was connected to (remembered
 * on disk, to be joined at its start) are forgotten with it. Before, the auto-removal left their record
 * under the runtime root for good, one file per such container.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { Container, Runtime } from '../../lib'
import { Network } from '../../lib/network/network'
import { busyboxImage } from '../helpers'
import { useSubnets } from '../net-helpers'
import { eventually, hostLinks, makeRoot } from '../network/helpers'

jest.setTimeout(60_000)

const [bridgeNet, extraNet] = useSubnets(2)

test('an rm: true container connected to a network before its start leaves no remembered attachment behind: its auto-removal forgets it, as remove() does', async () => {
  const runtime = new Runtime({ root: makeRoot(), subnetPool: [bridgeNet.cidr] })
  const names = runtime.networks.names
  try {
    await busyboxImage(runtime)
    const extra = await Network.create('rmf-extra', { runtime, subnet: extraNet.cidr })
    const c = await Container.create('bb', ['true'], { runtime, rm: true, network: 'bridge' })
    await extra.connect(c)
    const remembered = path.join(runtime.root, 'networks', 'attachments', `${c.id}.json`)
    expect(fs.existsSync(remembered)).toBe(true) // the record this test is about
    await c.start()
    expect(await c.wait()).toEqual({ exitCode: 0 })
    await expect(Container.get(c.id, { runtime })).rejects.toMatchObject({ code: 'ENOCONTAINER' })
    // What an auto-removal does once the shim is gone comes a moment after wait() resolved.
    expect(await eventually(() => !fs.existsSync(remembered), 10_000)).toBe(true)
    expect(fs.readdirSync(path.dirname(remembered))).toEqual([])
    await extra.remove()
  } finally {
    await runtime.close({ removeRoot: true })
  }
  expect(hostLinks(names.bridgePrefix)).toEqual([])
  expect(hostLinks(names.vethPrefix)).toEqual([])
})
