/**
 * Pre-started containers (lib/container/prestarts.ts) in a rootless runtime, run as an unprivileged
 * user by the rootless project (scripts/test-rootless.js): once a shape has run twice, the next run
 * claims the container pre-started for it, inside the runtime's user namespace, and its program sees
 * what an unclaimed run's sees (its ids inside, its capabilities, its hostname, its mounts); close()
 * leaves nothing of an unclaimed one.
 */
import { run, type Runtime, type RunOptions } from '../../../lib'
import { busyboxImage, destroyRuntime, prestartedId, tempRuntime, text } from '../../helpers'

jest.setTimeout(120_000)

let rt: Runtime
beforeAll(async () => {
  expect(process.geteuid!()).not.toBe(0)
  rt = tempRuntime('mc-rl-prestart-')
  await busyboxImage(rt)
})
afterAll(() => destroyRuntime(rt))

const probe = ['sh', '-c', 'id; hostname; cat /etc/hostname; grep -E "^(Cap|NoNewPrivs|Seccomp)" /proc/self/status; cut -d" " -f5,9 /proc/self/mountinfo | sort; cat /proc/self/uid_map']

async function probed(opts: RunOptions): Promise<{ out: string; id: string }> {
  const c = await run('bb', probe, { runtime: rt, network: 'none', ...opts })
  expect(await c.wait()).toEqual({ exitCode: 0 })
  const out = (await text(c.logs())).split(c.id.slice(0, 12)).join('<id>')
  await c.remove()
  return { out, id: c.id }
}

test("a rootless run of a shape run twice claims the container pre-started for it, and its program sees what an unclaimed run's sees", async () => {
  const opts: RunOptions = { capDrop: ['NET_RAW'], hostname: 'rl-claimed' }
  await probed({})
  const unclaimed = await probed(opts)
  const id = await prestartedId(rt.root)
  const claimed = await probed(opts)
  expect(claimed.id).toBe(id)
  expect(claimed.out).toBe(unclaimed.out)
  expect(claimed.out).toMatch(/^rl-claimed\nrl-claimed\n/m)
  // Unclaimed ones go with close() (destroyRuntime): its directory too, checked by the project's leftover check.
  await prestartedId(rt.root)
})
