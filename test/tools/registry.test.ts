/**
 * The test registry helper itself: a jest worker killed outright (SIGKILL,
 * no afterAll) must not leave its docker-registry running on the host.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { processesWith, sleep } from '../helpers'
import { spawnNode } from './node-child'

test('a registry dies with the process that started it, even one killed with SIGKILL', async () => {
  const helper = path.join(__dirname, 'registry.ts')
  const owner = spawnNode(`require(${JSON.stringify(helper)}).startRegistry().then((r) => console.log(r.dir))`, { stdio: ['ignore', 'pipe', 'inherit'] })
  const dir = await new Promise<string>((resolve, reject) => {
    owner.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim()))
    owner.once('exit', (code) => reject(new Error(`the owner exited (${code}) before its registry was up`)))
  })
  try {
    expect(processesWith(dir).length).toBeGreaterThan(0) // it is serving
    owner.kill('SIGKILL')
    for (let i = 0; i < 100 && processesWith(dir).length; i++) await sleep(50)
    expect(processesWith(dir)).toEqual([])
  } finally {
    owner.kill('SIGKILL')
    fs.rmSync(dir, { recursive: true, force: true }) // its own cleanup never ran
  }
})
