/**
 * Making an endpoint (lib/network/endpoint.ts createEndpoint), at a start
 * or ahead of one (a warm endpoint): once the pair is made (its host end,
 * down, looked up with it: it names the end inside), its requests are sent
 * together, in the order the kernel needs, and a failure deletes the pair only once none of them is in
 * flight. Pure logic: the sockets are stood in for by objects whose answers
 * the test gives. That the kernel takes them so is
 * test/network/warm-endpoints.test.ts's and e2e-bridge's.
 */
import { createEndpoint, readdressInside, type EndpointPlan } from '../../lib/network/endpoint'
import type { Rtnl } from '../../lib/network/rtnl'

/** A request sent to a stand-in socket, answered when the test says. */
interface Sent {
  what: string
  answer: () => void
  fail: (err: Error) => void
}

/** An inner socket recording what is sent, in order, and leaving every answer to the test. */
function innerSocket(sent: Sent[]): Rtnl {
  const request = (what: string) =>
    new Promise<void>((resolve, reject) => {
      sent.push({ what, answer: resolve, fail: reject })
    })
  return {
    link: async (name: string) => ({ name, index: 7 }),
    up: (index: number) => request(`up ${index}`),
    deleteAddress: (index: number, ip: string, prefixLen: number) => request(`delete ${ip}/${prefixLen} on ${index}`),
    setMacAndUp: (index: number, mac: Buffer) => request(`mac ${mac.toString('hex')} and up ${index}`),
    addAddress: (index: number, ip: string, prefixLen: number) => request(`address ${ip}/${prefixLen} on ${index}`),
    addDefaultRoute: (index: number, gateway: string) => request(`route via ${gateway} on ${index}`),
  } as unknown as Rtnl
}

/**
 * A host socket making pairs at once, whose host end (index 12) names its peer inside as index 7, and
 * recording the links deleted and, with `sent`, its bridge port set up (answered at once).
 */
function hostSocket(deleted: string[], sent: Sent[] = []): Rtnl {
  return {
    createVeth: async () => undefined,
    link: async (name: string) => ({ name, index: 12, linkIndex: 7, up: false }),
    upBridgePort: async (index: number, { hairpin }: { hairpin: boolean }) => void sent.push({ what: `port ${index} up${hairpin ? ', hairpin' : ''}`, answer: () => undefined, fail: () => undefined }),
    deleteLink: async (name: string) => (deleted.push(name), true),
  } as unknown as Rtnl
}

const plan: EndpointPlan = { bridgeIndex: 3, hostVeth: 'mcveth0', ifname: 'eth0', ip: '10.9.0.3', prefixLen: 24, gateway: '10.9.0.1', defaultRoute: true, hostTuning: false }
const turn = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r))
}

test("eth0's up, its address and its route are sent together, in that order, before any answer", async () => {
  const sent: Sent[] = []
  let done = false
  const addressing = createEndpoint(hostSocket([]), innerSocket(sent), 9, plan).then(() => (done = true))
  await turn()
  expect(sent.map((s) => s.what)).toEqual(['up 7', 'address 10.9.0.3/24 on 7', 'route via 10.9.0.1 on 7'])
  sent[0].answer()
  sent[1].answer()
  await turn()
  expect(done).toBe(false)
  sent[2].answer()
  await addressing
  expect(done).toBe(true)
})

test("the host end is set up (hairpin on, in the host's namespace) after eth0's up is sent, its peer's index from the host end, with no look-up inside", async () => {
  const sent: Sent[] = []
  const inner = innerSocket(sent)
  const lookups: string[] = []
  Object.assign(inner, { link: async (name: string) => (lookups.push(name), { name, index: 99 }) })
  const addressing = createEndpoint(hostSocket([], sent), inner, 9, { ...plan, hostTuning: true, ipv6BornOff: true })
  await turn()
  expect(sent.map((s) => s.what)).toEqual(['up 7', 'address 10.9.0.3/24 on 7', 'route via 10.9.0.1 on 7', 'port 12 up, hairpin'])
  expect(lookups).toEqual([])
  for (const s of sent) s.answer()
  expect(await addressing).toBe(7)
})

test('a failed request deletes the pair once every request sent with it is answered, and its error is the one reported', async () => {
  const sent: Sent[] = []
  const deleted: string[] = []
  const addressing = createEndpoint(hostSocket(deleted), innerSocket(sent), 9, plan).catch((err: Error) => err.message)
  await turn()
  sent[1].fail(new Error('add address: EEXIST'))
  sent[2].fail(new Error('add route: ENETUNREACH'))
  await turn()
  // The first is still in flight: deleting the pair now would race it.
  expect(deleted).toEqual([])
  sent[0].answer()
  expect(await addressing).toBe('add address: EEXIST')
  expect(deleted).toEqual(['mcveth0'])
})

test("moving a warm endpoint's address sends the old address's removal, the new MAC, the new address and the route together, in that order", async () => {
  const sent: Sent[] = []
  const moving = readdressInside(hostSocket([]), innerSocket(sent), 7, '10.9.0.4', plan)
  await turn()
  expect(sent.map((s) => s.what)).toEqual(['delete 10.9.0.4/24 on 7', 'mac 02420a090003 and up 7', 'address 10.9.0.3/24 on 7', 'route via 10.9.0.1 on 7'])
  for (const s of sent) s.answer()
  await moving
})
