/**
 * Extended attributes through `docker cp`, differentially: a host file with a
 * file capability and a user.* attribute goes into a container and back out,
 * once with Docker's CLI against a private engine and once with copyTo and
 * copyFrom; getfattr then shows the same attributes on both results (Docker's
 * archives carry security.capability only).
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Container, type Runtime } from '../../lib'
import { attrs, requireXattrTools, sh } from '../image/xattr-fixture'
import { useBusyboxOnBoth, type PrivateDocker } from '../tools/docker-engine'

jest.setTimeout(180_000)

let engine: PrivateDocker
let runtime: Runtime
useBusyboxOnBoth('mc-cpx:bb', (e, r) => ((engine = e), (runtime = r)))
beforeAll(requireXattrTools)

let work: string
beforeEach(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-cpx-'))
})
afterEach(() => fs.rmSync(work, { recursive: true, force: true }))

test('a file capability survives docker cp in and out; a user.* attribute does not; the same here', async () => {
  const src = path.join(work, 'pinger')
  fs.writeFileSync(src, '#!/bin/sh\n', { mode: 0o755 })
  sh('setcap', ['cap_net_raw+ep', src])
  sh('setfattr', ['-n', 'user.note', '-v', 'host-only', src])

  const id = await engine.ok(['create', '--network', 'none', 'mc-cpx:bb', 'true'])
  try {
    await engine.ok(['cp', src, `${id}:/pinger`])
    await engine.ok(['cp', `${id}:/pinger`, path.join(work, 'docker')])
  } finally {
    await engine.run(['rm', '-f', id])
  }

  await using c = await Container.create('mc-cpx:bb', ['true'], { runtime, network: 'none' })
  await c.copyTo(src, '/pinger')
  await c.copyFrom('/pinger', path.join(work, 'ours'))

  const docker = attrs(path.join(work, 'docker'))
  expect(docker).toMatch(/^security\.capability=0x/)
  expect(docker).not.toContain('user.note')
  expect(attrs(path.join(work, 'ours'))).toBe(docker)
})
