/**
 * A failed or cancelled pull leaves the store as it found it: against a
 * loopback peer serving a two-layer image whose second layer misbehaves
 * (an endless body, a stall the caller aborts, an absurd size), the first
 * layer and the config, stored by then, are removed again.
 */
import * as crypto from 'node:crypto'
import * as fs from 'node:fs'
import * as http from 'node:http'
import type * as net from 'node:net'
import * as path from 'node:path'
import * as tar from 'tar-stream'
import { Image, type Runtime } from '../../lib'
import { hostPlatform } from '../../lib/image/platform'
import { destroyRuntime, tempRuntime } from '../helpers'

jest.setTimeout(60_000)

const sha = (b: Buffer) => `sha256:${crypto.createHash('sha256').update(b).digest('hex')}`
const LAYER = 'application/vnd.oci.image.layer.v1.tar'

/** A plain tar holding one file. */
async function layerTar(name: string, body: string): Promise<Buffer> {
  const pack = tar.pack()
  pack.entry({ name, mode: 0o644 }, body)
  pack.finalize()
  const parts: Buffer[] = []
  for await (const c of pack) parts.push(c as Buffer)
  return Buffer.concat(parts)
}

type Misbehaviour = 'endless' | 'stall' | 'absurd size'

/** A registry peer for "a/b:1": manifest, config and the first layer served right, the second as `how` says. */
async function peer(how: Misbehaviour, good: Buffer): Promise<{ host: string; close: () => Promise<void> }> {
  const second = Buffer.alloc(1 << 20, 1)
  const config = Buffer.from(JSON.stringify({ ...hostPlatform(), rootfs: { type: 'layers', diff_ids: [sha(good), sha(second)] }, config: {} }))
  const size = how === 'absurd size' ? Number.MAX_SAFE_INTEGER : second.length
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers: [
        { mediaType: LAYER, digest: sha(good), size: good.length },
        { mediaType: LAYER, digest: sha(second), size },
      ],
    }),
  )
  const server = http.createServer((req, res) => {
    const url = req.url ?? ''
    if (url.endsWith('/manifests/1')) return void res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }).end(manifest)
    if (url.endsWith(sha(config))) return void res.writeHead(200).end(config)
    if (url.endsWith(sha(good))) return void res.writeHead(200).end(good)
    if (!url.endsWith(sha(second))) return void res.writeHead(404).end()
    res.writeHead(200)
    if (how === 'stall') return void res.write(second.subarray(0, 600 << 10)) // then nothing, until the caller aborts
    if (how === 'absurd size') return void res.end(second)
    let sent = 0 // endless, bounded by the test: 64 MiB at most, and only while the client reads
    const pump = (): void => {
      while (!res.destroyed && sent < 64 << 20) {
        sent += second.length
        if (!res.write(second)) return void res.once('drain', pump)
      }
      if (!res.destroyed) res.end()
    }
    pump()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    host: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    close: () => {
      server.closeAllConnections()
      return new Promise((r) => server.close(() => r()))
    },
  }
}

/** Blob and layer files of a runtime's store. */
function storeFiles(rt: Runtime): { blobs: string[]; layers: string[] } {
  const list = (d: string) => (fs.existsSync(path.join(rt.root, d)) ? fs.readdirSync(path.join(rt.root, d)).sort() : [])
  return { blobs: list('blobs/sha256'), layers: list('layers').filter((f) => f.startsWith('sha256-')) }
}

test.each<[Misbehaviour, string]>([
  ['endless', 'EDIGEST'],
  ['stall', 'EABORTED'],
  ['absurd size', 'EDIGEST'],
])('a pull whose second layer is %s fails with %s and leaves exactly the blobs and layers that were there', async (how, code) => {
  const good = await layerTar('hello.txt', 'hello\n')
  const p = await peer(how, good)
  const rt = tempRuntime()
  try {
    // Something stored before the pull stays: an imported image (its own layer and config).
    const beforeTar = path.join(rt.root, 'before.tar')
    fs.writeFileSync(beforeTar, await layerTar('before.txt', 'kept\n'))
    await Image.import(beforeTar, { runtime: rt, ref: 'before:1' })
    const before = storeFiles(rt)
    const ac = new AbortController()
    const pulling = Image.pull(`${p.host}/a/b:1`, {
      runtime: rt,
      concurrency: 1,
      signal: ac.signal,
      onProgress: (e) => how === 'stall' && e.layer === 1 && e.status === 'downloading' && ac.abort(new Error('stop the pull')),
    })
    await expect(pulling).rejects.toMatchObject({ code })
    expect(storeFiles(rt)).toEqual(before)
    expect((await Image.list({ runtime: rt })).map((i) => i.refs)).toEqual([['before:1']])
  } finally {
    await p.close()
    await destroyRuntime(rt)
  }
})
