/**
 * Compose across jest-like workers: four processes on one runtime root up
 * the same file, which has a fixed host port and a container_name, at the
 * same moment: with `ports: 'ephemeral'` and `isolateNames` all four run
 * side by side. The same four ask for one reused project at once and get
 * the one running environment (made once, under the root's reuse lock).
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Compose, type Runtime } from '../../lib'
import { useRuntime } from '../helpers'
import { startWorker, type WorkerProcess } from '../tools/worker-process'

jest.setTimeout(240_000)

let runtime: Runtime
useRuntime((rt) => (runtime = rt), { busybox: true, hostImage: false })

let workdir: string
beforeAll(() => { workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-compose-workers-')) })
afterAll(() => fs.rmSync(workdir, { recursive: true, force: true }))

const own = `services:
  web:
    image: bb
    container_name: fixed-web
    command: ["sh", "-c", "mkdir /w && hostname > /w/index.html && exec httpd -f -p 80 -h /w"]
    ports: ["18081:80"]
  client: { image: bb, command: [sleep, "1000"] }
`
const shared = 'services:\n  db: { image: bb, command: [sleep, "1000"] }\n'

interface Report { project: string; web: string; port: number; answer: string; fromClient: string; shared: string }

function worker(): WorkerProcess<Report> {
  return startWorker<Report>(path.join(__dirname, 'worker.ts'), [own, shared, workdir], runtime.root, 200_000)
}

test('four workers up one file with a fixed port and container_name side by side, and share one reused project', async () => {
  const workers = [1, 2, 3, 4].map(worker)
  const reports = await Promise.all(workers.map((w) => w.report)).finally(() => workers.forEach((w) => w.release()))
  await Promise.all(workers.map((w) => w.done))
  expect(new Set(reports.map((r) => r.project)).size).toBe(4)
  expect(new Set(reports.map((r) => r.port)).size).toBe(4)
  for (const r of reports) {
    expect(r.web).toBe(`${r.project}-fixed-web`)
    expect(r.port).not.toBe(18081)
    // Each reached its own web, from the host and by the written container_name from its own client.
    expect(r.fromClient).toBe(r.answer)
  }
  expect(new Set(reports.map((r) => r.answer)).size).toBe(4)
  expect(new Set(reports.map((r) => r.shared)).size).toBe(1)
  // The shared project outlived its workers; the last user takes it down.
  const env = await Compose.up({ yaml: shared, workdir }, { runtime, projectName: 'shared-env', reuse: true })
  expect(env.service('db').id).toBe(reports[0].shared)
  await env.down({ volumes: true })
})
