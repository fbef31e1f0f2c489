/**
 * A container's release is due at its call and runs a turn of the event loop
 * later (lib/network/due-releases.ts): a start that takes a warm endpoint
 * and depends on nothing the release frees goes ahead of it, and every
 * start that does depend on it (the same container again, the released
 * ports, a user network shared with the leaver) sees it done. Against the
 * real kernel, with the service's own namespaces (join) and a runtime root
 * of its own; traffic goes only to the containers' gateways.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import type { NetworkSettings } from '../../lib/network/types'
import { NetworkService } from '../../lib/network/service'
import { useSubnets } from '../net-helpers'
import type { WarmEndpoints } from '../../lib/network/warm-endpoints'
import { eventually, hostLinks, makeRoot, nftTables } from './helpers'

describe('releases due', () => {
  const [bridgeNet, users] = useSubnets(2)
  const root = makeRoot()
  const svc = new NetworkService({ root, subnetPool: [bridgeNet.cidr] })
  /** The namespaces of the containers started, by id (a container's ends when it leaves). */
  const netns = new Map<string, number>()
  let n = 0

  /** A fake container: an id, a name and a hosts file. */
  function container(name: string) {
    const id = `${name}-${String(++n).padStart(2, '0')}`.padEnd(64, '0')
    const hostsFile = path.join(root, `${name}.hosts`)
    fs.writeFileSync(hostsFile, '127.0.0.1\tlocalhost\n')
    return { id, name, hostname: name, hostsFile }
  }

  /** Joins `mode` as a start does, its start then settled (the network's warm endpoints are made after it). */
  async function start(ref: ReturnType<typeof container>, mode: string, opts: Parameters<NetworkService['join']>[2] = {}): Promise<NetworkSettings> {
    const joined = await svc.join(ref, mode, opts)
    netns.set(ref.id, joined.netnsFd)
    joined.startSettled()
    return joined.settings
  }

  /** The container's namespace ends (its veth goes with it) and its release is asked for, as at an exit. */
  function leave(ref: { id: string }): Promise<void> {
    fs.closeSync(netns.get(ref.id)!)
    netns.delete(ref.id)
    return svc.release(ref.id)
  }

  /** Once an endpoint is kept warm for the network of `mode` (the refill after a start made it): the next start takes it. */
  async function warmKept(mode: string): Promise<void> {
    const { id } = await svc.get(mode)
    const warm = (svc as unknown as { warm: WarmEndpoints }).warm
    expect(await eventually(() => warm.addressOf(id) !== undefined, 10000)).toBe(true)
  }

  afterAll(async () => {
    await svc.destroy()
    await svc.close()
    for (const fd of netns.values()) fs.closeSync(fd)
    fs.rmSync(root, { recursive: true, force: true })
    expect(hostLinks(svc.names.bridgePrefix)).toEqual([])
    expect(hostLinks(svc.names.vethPrefix)).toEqual([])
    expect(nftTables()).not.toContain(`table ip ${svc.names.table}`)
  })

  test('a start that takes a warm endpoint goes ahead of a release asked for before it, which then runs', async () => {
    const leaver = container('leaver')
    await start(leaver, 'bridge')
    await warmKept('bridge')
    const released = leave(leaver)
    const next = container('next')
    // Looked at as the join resolves: the leaver's release has not begun (its record is still there).
    const joined = svc.join(next, 'bridge').then((j) => ({ ...j, leaverRecorded: svc.settings(leaver.id) !== undefined }))
    const { netnsFd, settings, startSettled, leaverRecorded } = await joined
    netns.set(next.id, netnsFd)
    startSettled()
    expect(leaverRecorded).toBe(true)
    expect(settings.ipAddress).toMatch(/^\d+\.\d+\.\d+\.\d+$/)
    await released
    expect(svc.settings(leaver.id)).toBeUndefined()
    expect(svc.settings(next.id)?.ipAddress).toBe(settings.ipAddress)
    await leave(next)
  })

  test('a start of the same container runs its own release first: the release does not come after it and take its new run', async () => {
    const again = container('again')
    await start(again, 'bridge')
    await warmKept('bridge')
    const released = leave(again)
    const settings = await start(again, 'bridge')
    await released
    // The new run's record stands.
    expect(svc.settings(again.id)?.ipAddress).toBe(settings.ipAddress)
    await leave(again)
    expect(svc.settings(again.id)).toBeUndefined()
  })

  test('a start publishing the host port a leaving container held runs that release first: the port is free for it', async () => {
    const holder = container('holder')
    const held = await start(holder, 'bridge', { ports: ['127.0.0.1::80'] })
    await warmKept('bridge')
    const hostPort = held.ports['80/tcp']![0]!.hostPort
    const released = leave(holder)
    const taker = container('taker')
    const settings = await start(taker, 'bridge', { ports: [`127.0.0.1:${hostPort}:80`] })
    expect(settings.ports['80/tcp']).toEqual([{ hostIp: '127.0.0.1', hostPort }])
    await released
    await leave(taker)
  })

  test("a start on a user network a leaving container was on runs that release first: its hosts file never lists the leaver", async () => {
    await svc.create('due-users', { subnet: users.cidr })
    const stay = container('stay')
    const leaver = container('userleaver')
    await start(stay, 'due-users')
    await start(leaver, 'due-users')
    await warmKept('due-users')
    expect(fs.readFileSync(stay.hostsFile, 'utf8')).toContain('userleaver')
    const released = leave(leaver)
    const next = container('usernext')
    const hostsAtJoin = svc.join(next, 'due-users').then((j) => (netns.set(next.id, j.netnsFd), j.startSettled(), fs.readFileSync(next.hostsFile, 'utf8')))
    const hosts = await hostsAtJoin
    expect(hosts).toContain('stay')
    expect(hosts).toContain('usernext')
    expect(hosts).not.toContain('userleaver')
    await released
    expect(fs.readFileSync(stay.hostsFile, 'utf8')).not.toContain('userleaver')
    for (const c of [stay, next]) await leave(c)
    await svc.remove('due-users')
  })
})
