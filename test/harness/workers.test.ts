/**
 * Parallel safety and reuse across processes: four worker processes on one
 * default runtime at once share one reused redis (same container for all,
 * made once under the reuse lock), and create containers with published
 * ports in user networks of their own without any collision or failure.
 */
import * as net from 'node:net'
import * as path from 'node:path'
import { Container, run, Wait, type Runtime } from '../../lib'
import { useRuntime } from '../helpers'
import { startWorker, type WorkerProcess } from '../tools/worker-process'

jest.setTimeout(180_000)

let runtime: Runtime
useRuntime((rt) => (runtime = rt), { busybox: true })

interface Report { redis: string; subnet: string; hostPorts: string[]; ips: string[]; names: string[]; answers: string[] }

/** Starts one worker; `report` resolves with what it holds, `release()` lets it clean up, `done` with its exit. */
function worker(name: string): WorkerProcess<Report> {
  return startWorker<Report>(path.join(__dirname, 'worker.ts'), [name], runtime.root)
}

function ping(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write('PING\r\n'))
    s.once('data', (d) => (resolve(d.toString().trim()), s.end()))
    s.once('error', reject)
  })
}

test('four workers at once: one reused redis for all, no collision on names, ports, addresses or subnets', async () => {
  // All four hold their networks and containers until every one has reported.
  const workers = ['w1', 'w2', 'w3', 'w4'].map(worker)
  const reports = await Promise.all(workers.map((w) => w.report)).finally(() => workers.forEach((w) => w.release()))
  await Promise.all(workers.map((w) => w.done))
  const all = (key: 'hostPorts' | 'ips' | 'names') => reports.flatMap((r) => r[key])
  expect(new Set(reports.map((r) => r.redis)).size).toBe(1)
  expect(new Set(reports.map((r) => r.subnet)).size).toBe(4)
  expect(new Set(all('hostPorts')).size).toBe(8)
  expect(new Set(all('ips')).size).toBe(8)
  expect(new Set(all('names')).size).toBe(8)
  for (const r of reports) expect(r.answers).toEqual(r.names.map((n) => n.replace('web-', '')))
  // The reused redis outlived its workers (detached) and still answers.
  const redis = await Container.get('shared-redis', { runtime })
  expect(redis.id).toBe(reports[0].redis)
  expect(await ping(Number(redis.port(6379)!.hostPort))).toBe('+PONG')
  expect((await redis.inspect()).hostConfig.detach).toBe(true)
  await redis.remove({ force: true })
}, 480_000)

test('reuse: a different configuration or a stopped container is replaced; reuse needs a name', async () => {
  const opts = { runtime, name: 'reuse-me', reuse: true, network: 'none' as const }
  const a = await run('bb', ['sleep', '60'], opts)
  const again = await run('bb', ['sleep', '60'], opts)
  expect(again.id).toBe(a.id)
  const other = await run('bb', ['sleep', '61'], opts)
  expect(other.id).not.toBe(a.id)
  await other.stop({ timeout: 0 })
  const fresh = await run('bb', ['sleep', '61'], { ...opts, waitFor: Wait.forListeningPorts([1]), startupTimeout: 100 }).catch((e) => e)
  expect(fresh.code).toBe('ETIMEOUT')
  await expect(Container.get('reuse-me', { runtime })).rejects.toMatchObject({ code: 'ENOCONTAINER' })
  await expect(run('bb', ['true'], { runtime, reuse: true })).rejects.toMatchObject({ code: 'EINVALID' })
})
