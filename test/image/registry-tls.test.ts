/**
 * Registries over https, as every registry off loopback is reached: a real
 * docker-registry serving TLS on 127.0.0.1 with a certificate from a CA
 * made for the run. The pull must verify the chain (a CA the process
 * trusts through NODE_EXTRA_CA_CERTS, as Node's own clients do, or the
 * registry's own in Docker's certs.d layout), refuse an unknown one, present
 * a client certificate from certs.d to a registry that requires one, and say
 * what to do when https meets a plain-http registry.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Image, type Runtime } from '../../lib'
import { busyboxRootfs, destroyRuntime, tempRuntime } from '../helpers'
import { runNodeSync } from '../tools/node-child'
import { startRegistry, type TestRegistry } from '../tools/registry'
import { buildOciImage, skopeoPush, skopeoRaw, writeFile, type OciLayout } from '../tools/oci-image'

jest.setTimeout(120_000)

let tlsReg: TestRegistry
let plainReg: TestRegistry
let mtlsReg: TestRegistry
let runtime: Runtime
let ref: string
let configDigest: string
let layout: OciLayout

beforeAll(async () => {
  ;[tlsReg, plainReg, mtlsReg] = await Promise.all([startRegistry({ type: 'none' }, { tls: true }), startRegistry(), startRegistry({ type: 'none' }, { tls: true, clientCerts: true })])
  runtime = tempRuntime()
  layout = buildOciImage({ layers: [(r) => void busyboxRootfs(r), (r) => writeFile(r, 'etc/greeting', 'over tls\n')], cmd: ['cat', '/etc/greeting'] })
  ref = `${tlsReg.host}/tls/app:1`
  await skopeoPush(layout, ref)
  await skopeoPush(layout, `${plainReg.host}/plain/app:1`)
  const client = mtlsReg.clientCert as { certFile: string; keyFile: string }
  const pushCerts = certsDir(mtlsReg.host, { 'client.cert': client.certFile, 'client.key': client.keyFile })
  try {
    await skopeoPush(layout, `${mtlsReg.host}/mtls/app:1`, undefined, path.join(pushCerts, mtlsReg.host))
  } finally {
    fs.rmSync(pushCerts, { recursive: true, force: true })
  }
  configDigest = (JSON.parse(await skopeoRaw(ref)) as { config: { digest: string } }).config.digest
})

afterAll(async () => {
  await destroyRuntime(runtime)
  await Promise.all([tlsReg?.stop(), plainReg?.stop(), mtlsReg?.stop()])
  layout?.remove()
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

/** A certs.d directory (Docker's layout) with `files` for `registry`: name -> source file. */
function certsDir(registry: string, files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-certs.d-'))
  fs.mkdirSync(path.join(dir, registry))
  for (const [name, from] of Object.entries(files)) fs.copyFileSync(from, path.join(dir, registry, name))
  return dir
}

test("the registry's CA in Docker's certs.d layout (<dir>/<host:port>/ca.crt) is trusted for that registry only", async () => {
  const dir = certsDir(tlsReg.host, { 'ca.crt': tlsReg.caFile as string })
  const other = tempRuntime()
  try {
    const img = await Image.pull(ref, { runtime: other, insecure: false, certsDir: dir })
    expect(img.id).toBe(configDigest)
    const elsewhere = certsDir('127.0.0.1:1', { 'ca.crt': tlsReg.caFile as string })
    try {
      await expect(Image.pull(ref, { runtime: other, insecure: false, certsDir: elsewhere })).rejects.toMatchObject({ code: 'EREGISTRY' })
    } finally {
      fs.rmSync(elsewhere, { recursive: true, force: true })
    }
  } finally {
    await destroyRuntime(other)
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('a registry that requires a client certificate gets the certs.d pair (<name>.cert + <name>.key); without it the pull is refused', async () => {
  const image = `${mtlsReg.host}/mtls/app:1`
  const client = mtlsReg.clientCert as { certFile: string; keyFile: string }
  const caOnly = certsDir(mtlsReg.host, { 'ca.crt': mtlsReg.caFile as string })
  const withPair = certsDir(mtlsReg.host, { 'ca.crt': mtlsReg.caFile as string, 'client.cert': client.certFile, 'client.key': client.keyFile })
  const other = tempRuntime()
  try {
    await expect(Image.pull(image, { runtime: other, insecure: false, certsDir: caOnly })).rejects.toMatchObject({ code: 'EREGISTRY' })
    expect(await Image.list({ runtime: other })).toEqual([])
    expect((await Image.pull(image, { runtime: other, insecure: false, certsDir: withPair })).id).toBe(configDigest)
  } finally {
    await destroyRuntime(other)
    fs.rmSync(caOnly, { recursive: true, force: true })
    fs.rmSync(withPair, { recursive: true, force: true })
  }
})

test('a client certificate without its key in certs.d is EINVALID naming the file, as dockerd refuses it', async () => {
  const client = mtlsReg.clientCert as { certFile: string; keyFile: string }
  const dir = certsDir(mtlsReg.host, { 'client.cert': client.certFile })
  try {
    await expect(Image.pull(`${mtlsReg.host}/mtls/app:1`, { runtime, insecure: false, certsDir: dir })).rejects.toMatchObject({
      code: 'EINVALID',
      message: expect.stringContaining(`${path.join(dir, mtlsReg.host, 'client.cert')} has no key client.key beside it`),
    })
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
