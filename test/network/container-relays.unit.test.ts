/**
 * ContainerRelays (lib/network/port-relay.ts) forgets a container whose relays all ended by
 * themselves (they end with its link when another process releases it, and this process never
 * will): a long-lived owner keeps no entry per container. Pure logic: relays are stand-ins whose
 * serving and ending the test controls.
 */
import { ContainerRelays, type PortRelay } from '../../lib/network/port-relay'

/** A relay whose end the test triggers with `end()`. */
function relay(serving: Promise<void> = Promise.resolve()): PortRelay & { end: () => void } {
  let end = (): void => {}
  const ended = new Promise<void>((resolve) => (end = resolve))
  serving.catch(() => {})
  return { hostPort: 1, pid: 1, ended, serving, close: () => (end(), ended), end: () => end() }
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

test('a container whose relays all served and ended by themselves is forgotten; not before the last ends', async () => {
  const relays = new ContainerRelays({ forgetEnded: true })
  const [a, b] = [relay(), relay()]
  await relays.add('c1', [async () => a, async () => b])
  a.end()
  await settle()
  expect(relays.size).toBe(1)
  b.end()
  await settle()
  expect(relays.size).toBe(0)
  expect(await relays.remove('c1')).toBe(false)
})

test('a relay that failed to serve keeps its container, for serving() to report the failure', async () => {
  const relays = new ContainerRelays({ forgetEnded: true })
  const failed = relay(Promise.reject(new Error('no')))
  await relays.add('c2', [async () => failed])
  failed.end()
  await settle()
  expect(relays.size).toBe(1)
  await expect(relays.serving('c2')).rejects.toThrow('no')
  await relays.remove('c2')
  expect(relays.size).toBe(0)
})

test('without forgetEnded (exposures: the entry stands for rules to remove), an ended container is kept', async () => {
  const relays = new ContainerRelays()
  const a = relay()
  await relays.add('c3', [async () => a])
  a.end()
  await settle()
  expect(relays.size).toBe(1)
  expect(await relays.remove('c3')).toBe(true)
})
