/**
 * Temporary runtimes leave nothing for long (issue 8, part 3): a runtime
 * whose root was deleted without close() (a crashed test run) leaves its
 * bridges, nf_tables table and host-wide subnet claims; the next runtime's
 * first network use collects them, recognising them by the root recorded
 * in the kernel (bridge ifalias, table comment). Four subnets claimed per
 * run (test/net-helpers.ts): two for the abandoned runtime, two for the next.
 */
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import { Network, Runtime } from '../../lib'
import { hostClaimDir } from '../../lib/network/host-subnets'
import { useSubnets } from '../net-helpers'
import { hostLinks, makeRoot, nftTables } from './helpers'

const [abandonedPool, abandonedNet, nextPool, nextNet] = useSubnets(4)
const claims = () => (fs.existsSync(hostClaimDir) ? fs.readdirSync(hostClaimDir) : [])

test("a runtime whose root is gone is collected at another runtime's first network use; the other keeps its own", async () => {
  const abandoned = new Runtime({ root: makeRoot(), subnetPool: [abandonedPool.cidr] })
  const names = abandoned.networks.names
  await Network.get('bridge', { runtime: abandoned })
  await Network.create('ab-net', { runtime: abandoned, subnet: abandonedNet.cidr })
  expect(hostLinks(names.bridgePrefix)).toHaveLength(2)
  // The root is recorded where the kernel keeps it.
  expect(execFileSync('ip', ['-d', 'link', 'show', names.defaultBridge]).toString()).toContain(`alias minicontainer:${abandoned.root}`)
  expect(execFileSync('nft', ['list', 'table', 'ip', names.table]).toString()).toContain(`comment "minicontainer:${abandoned.root}"`)
  expect(claims()).toEqual(expect.arrayContaining([abandonedPool.claimName, abandonedNet.claimName]))
  // A crash: the process forgets the runtime and its temp root is deleted, nothing closed.
  await abandoned.networks.close()
  fs.rmSync(abandoned.root, { recursive: true, force: true })

  const next = new Runtime({ root: makeRoot(), subnetPool: [nextPool.cidr] })
  try {
    await Network.get('bridge', { runtime: next })
    await Network.create('next-net', { runtime: next, subnet: nextNet.cidr })
    expect(hostLinks(names.bridgePrefix)).toEqual([])
    expect(nftTables()).not.toContain(`table ip ${names.table}`)
    expect(claims()).not.toEqual(expect.arrayContaining([abandonedPool.claimName]))
    expect(claims()).not.toContain(abandonedNet.claimName)
    // The live runtime's own objects are untouched.
    expect(hostLinks(next.networks.names.bridgePrefix)).toHaveLength(2)
    expect(claims()).toEqual(expect.arrayContaining([nextPool.claimName, nextNet.claimName]))
  } finally {
    await next.close()
    fs.rmSync(next.root, { recursive: true, force: true })
  }
  expect(hostLinks(next.networks.names.bridgePrefix)).toEqual([])
  expect(nftTables()).not.toContain(`table ip ${next.networks.names.table}`)
  expect(claims()).not.toContain(nextPool.claimName)
})
