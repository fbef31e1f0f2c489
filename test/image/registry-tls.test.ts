/**
 * Registries over https, as every registry off loopback is reached: a real
 * docker-registry serving TLS on 127.0.0.1 with a certificate from a CA
 * made for the run. The pull must verify the chain (a CA the process
 * trusts through NODE_EXTRA_CA_CERTS, as Node's own clients do), refuse an
 * unknown one, and say what to do when https meets a plain-http registry.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Image, type Runtime } from '../../lib'
import { busyboxRootfs, destroyRuntime, tempRuntime } from '../helpers'
import { runNodeSync } from '../tools/node-child'
import { startRegistry, type TestRegistry } from '../tools/registry'
import { buildOciImage, skopeoPush, skopeoRaw, writeFile } from '../tools/oci-image'

jest.setTimeout(120_000)

let tlsReg: TestRegistry
let plainReg: TestRegistry
let runtime: Runtime
let ref: string
let configDigest: string

beforeAll(async () => {
  ;[tlsReg, plainReg] = await Promise.all([startRegistry({ type: 'none' }, { tls: true }), startRegistry()])
  runtime = tempRuntime()
  const layout = buildOciImage({ layers: [(r) => void busyboxRootfs(r), (r) => writeFile(r, 'etc/greeting', 'over tls\n')], cmd: ['cat', '/etc/greeting'] })
  ref = `${tlsReg.host}/tls/app:1`
  await skopeoPush(layout, ref)
  await skopeoPush(layout, `${plainReg.host}/plain/app:1`)
  configDigest = (JSON.parse(await skopeoRaw(ref)) as { config: { digest: string } }).config.digest
})

afterAll(async () => {
  await destroyRuntime(runtime)
  await Promise.all([tlsReg?.stop(), plainReg?.stop()])
})

test('a pull over https verifies the registry certificate against a CA the process trusts (NODE_EXTRA_CA_CERTS)', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-tls-pull-'))
  try {
    const r = runNodeSync(
      `const { Image, Runtime } = lib()
      ;(async () => {
        const runtime = new Runtime({ root: ${JSON.stringify(root)} })
        try {
          const img = await Image.pull(${JSON.stringify(ref)}, { runtime, insecure: false })
          const info = await img.inspect()
          console.log(JSON.stringify({ id: info.id, cmd: info.config.cmd }))
        } finally {
          await runtime.close()
        }
      })().catch((err) => { console.error(err.code, err.message); process.exit(1) })`,
      { env: { NODE_EXTRA_CA_CERTS: tlsReg.caFile as string } },
    )
    expect(r.stderr).toBe('')
    expect(r.status).toBe(0)
    expect(JSON.parse(r.stdout)).toEqual({ id: configDigest, cmd: ['cat', '/etc/greeting'] })
  } finally {
    fs.rmSync(root, { recursive: true, force: true })
  }
})

test('a registry whose certificate no trusted CA signed is EREGISTRY naming the certificate problem, and nothing is stored', async () => {
  await expect(Image.pull(ref, { runtime, insecure: false })).rejects.toMatchObject({
    code: 'EREGISTRY',
    message: expect.stringMatching(/^cannot reach registry 127\.0\.0\.1:\d+ at https:\/\/.*(SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER)/),
  })
  expect(await Image.list({ runtime })).toEqual([])
})

test('https against a plain-http registry is EREGISTRY saying to pass { insecure: true }', async () => {
  await expect(Image.pull(`${plainReg.host}/plain/app:1`, { runtime, insecure: false })).rejects.toMatchObject({
    code: 'EREGISTRY',
    message: expect.stringContaining('(a plain-http registry? pass { insecure: true })'),
  })
})
