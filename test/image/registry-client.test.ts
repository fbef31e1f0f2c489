/**
 * The registry client's protocol: auth (anonymous, htpasswd basic, token
 * with real JWTs), credentials from the Docker config, and, against small
 * loopback peers that misbehave on purpose, retries, Retry-After,
 * redirects without credential leaks and resumed downloads.
 */
import * as crypto from 'node:crypto'
import * as fs from 'node:fs'
import * as http from 'node:http'
import * as https from 'node:https'
import type * as net from 'node:net'
import * as os from 'node:os'
import * as path from 'node:path'
import { parseReference } from '../../lib/image/reference'
import { RegistryClient } from '../../lib/image/registry/client'
import { blobChunks, fetchManifest } from '../../lib/image/registry/blobs'
import { parseChallenge } from '../../lib/image/registry/auth'
import { credentialsFromDockerConfig } from '../../lib/image/registry/credentials'
import { MiniContainerError } from '../../lib/errors'
import { makeServerCertificate, startRegistry } from '../tools/registry'
import { buildOciImage, skopeoPush, writeFile, type OciLayout } from '../tools/oci-image'

jest.setTimeout(60_000)

async function codeOf(p: Promise<unknown>): Promise<MiniContainerError> {
  try {
    await p
  } catch (e) {
    if (e instanceof MiniContainerError) return e
    throw e
  }
  throw new Error('expected a MiniContainerError')
}

let layout: OciLayout
beforeAll(() => {
  layout = buildOciImage({ layers: [(r) => writeFile(r, 'hello.txt', 'hello\n')], cmd: ['cat', '/hello.txt'] })
})
afterAll(() => layout?.remove())

describe('auth against docker-registry', () => {
  test('anonymous registry: manifest by tag, then by the digest skopeo reported', async () => {
    const reg = await startRegistry()
    try {
      const digest = await skopeoPush(layout, `${reg.host}/team/hello:1`)
      const ref = parseReference(`${reg.host}/team/hello:1`)
      const client = new RegistryClient(ref.registry)
      expect(client.origin).toBe(`http://${reg.host}`)
      const m = await fetchManifest(client, ref, '1')
      expect(m.digest).toBe(digest)
      const byDigest = await fetchManifest(client, ref, digest, digest)
      expect(byDigest.bytes.equals(m.bytes)).toBe(true)
      expect((await codeOf(fetchManifest(client, ref, 'nope'))).code).toBe('ENOIMAGE')
    } finally {
      await reg.stop()
    }
  })

  test('htpasswd basic auth: right credentials work, wrong and missing ones are EAUTH naming the realm', async () => {
    const reg = await startRegistry({ type: 'htpasswd', users: { alice: 's3cret' } })
    try {
      await skopeoPush(layout, `${reg.host}/team/hello:1`, 'alice:s3cret')
      const ref = parseReference(`${reg.host}/team/hello:1`)
      const ok = await fetchManifest(new RegistryClient(ref.registry, { auth: { username: 'alice', password: 's3cret' } }), ref, '1')
      expect(ok.bytes.length).toBeGreaterThan(0)
      const wrong = await codeOf(fetchManifest(new RegistryClient(ref.registry, { auth: { username: 'alice', password: 'nope' } }), ref, '1'))
      expect(wrong.code).toBe('EAUTH')
      expect(wrong.message).toMatch(/test-basic-realm/)
      const none = await codeOf(fetchManifest(new RegistryClient(ref.registry, { auth: undefined }), ref, '1'))
      expect(none.code).toBe('EAUTH')
    } finally {
      await reg.stop()
    }
  })

  test('token auth: a JWT from the realm for the pull scope; wrong password is EAUTH naming realm and scope', async () => {
    const reg = await startRegistry({ type: 'token', users: { bob: 'pw' } })
    try {
      await skopeoPush(layout, `${reg.host}/team/hello:1`, 'bob:pw')
      const ref = parseReference(`${reg.host}/team/hello:1`)
      reg.tokenRequests.length = 0
      const client = new RegistryClient(ref.registry, { auth: { username: 'bob', password: 'pw' } })
      const m = await fetchManifest(client, ref, '1')
      expect(m.bytes.length).toBeGreaterThan(0)
      expect(reg.tokenRequests).toEqual([{ user: 'bob', scopes: ['repository:team/hello:pull'] }])
      // The token is reused for the next request of the same scope.
      await fetchManifest(client, ref, '1')
      expect(reg.tokenRequests).toHaveLength(1)
      const wrong = await codeOf(fetchManifest(new RegistryClient(ref.registry, { auth: { username: 'bob', password: 'bad' } }), ref, '1'))
      expect(wrong.code).toBe('EAUTH')
      expect(wrong.message).toContain(reg.realm)
      expect(wrong.message).toContain('repository:team/hello:pull')
    } finally {
      await reg.stop()
    }
  })

  test('token auth: a token without the needed access is EAUTH, not a loop', async () => {
    const reg = await startRegistry({ type: 'token', users: { bob: 'pw', eve: 'pw' }, policy: (user, _repo, asked) => (user === 'eve' ? [] : asked) })
    try {
      await skopeoPush(layout, `${reg.host}/team/hello:1`, 'bob:pw')
      const ref = parseReference(`${reg.host}/team/hello:1`)
      reg.tokenRequests.length = 0
      const err = await codeOf(fetchManifest(new RegistryClient(ref.registry, { auth: { username: 'eve', password: 'pw' } }), ref, '1'))
      expect(err.code).toBe('EAUTH')
      expect(err.message).toContain('repository:team/hello:pull')
      expect(reg.tokenRequests.length).toBeLessThanOrEqual(2)
    } finally {
      await reg.stop()
    }
  })

  test('credentials come from ~/.docker/config.json auths when none are given', async () => {
    const reg = await startRegistry({ type: 'htpasswd', users: { carol: 'pw2' } })
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-dockercfg-'))
    const saved = process.env.DOCKER_CONFIG
    try {
      await skopeoPush(layout, `${reg.host}/team/hello:1`, 'carol:pw2')
      fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ auths: { [`http://${reg.host}`]: { auth: Buffer.from('carol:pw2').toString('base64') } } }))
      process.env.DOCKER_CONFIG = dir
      expect(credentialsFromDockerConfig(reg.host)).toEqual({ username: 'carol', password: 'pw2' })
      const ref = parseReference(`${reg.host}/team/hello:1`)
      expect((await fetchManifest(new RegistryClient(ref.registry), ref, '1')).bytes.length).toBeGreaterThan(0)
    } finally {
      if (saved === undefined) delete process.env.DOCKER_CONFIG
      else process.env.DOCKER_CONFIG = saved
      fs.rmSync(dir, { recursive: true, force: true })
      await reg.stop()
    }
  })
})

describe('challenges', () => {
  test('parses bearer challenges with quoted commas and errors', () => {
    expect(parseChallenge('Bearer realm="https://a/token",service="reg, x",scope="repository:a/b:pull,push",error="insufficient_scope"')).toEqual({
      scheme: 'bearer',
      realm: 'https://a/token',
      service: 'reg, x',
      scope: 'repository:a/b:pull,push',
      error: 'insufficient_scope',
    })
    expect(parseChallenge('Basic realm="r"')).toEqual({ scheme: 'basic', realm: 'r' })
    expect(parseChallenge('Negotiate')).toBeUndefined()
    expect(parseChallenge(null)).toBeUndefined()
  })
})

/** A loopback HTTP peer; `handler` decides every answer. */
async function peer(handler: http.RequestListener): Promise<{ url: string; host: string; close: () => Promise<void> }> {
  const server = http.createServer(handler)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as net.AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    close: () => {
      server.closeAllConnections()
      return new Promise((r) => server.close(() => r()))
    },
  }
}

describe('transport against misbehaving peers', () => {
  const blob = crypto.randomBytes(3 << 20)
  const digest = `sha256:${crypto.createHash('sha256').update(blob).digest('hex')}`
  const desc = { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest, size: blob.length }

  async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
    const parts: Buffer[] = []
    for await (const c of it) parts.push(c)
    return Buffer.concat(parts)
  }

  test('429 and 503 are retried, honouring Retry-After', async () => {
    const seen: number[] = []
    const p = await peer((req, res) => {
      seen.push(Date.now())
      if (seen.length === 1) return void res.writeHead(429, { 'retry-after': '1' }).end()
      if (seen.length === 2) return void res.writeHead(503).end()
      res.writeHead(200, { 'content-length': blob.length }).end(blob)
    })
    try {
      const ref = parseReference(`${p.host}/a/b:1`)
      const got = await collect(blobChunks(new RegistryClient(ref.registry), ref, desc))
      expect(got.equals(blob)).toBe(true)
      expect(seen).toHaveLength(3)
      expect(seen[1] - seen[0]).toBeGreaterThanOrEqual(950)
    } finally {
      await p.close()
    }
  })

  test('a broken download resumes with Range from the last byte', async () => {
    const ranges: (string | undefined)[] = []
    const p = await peer((req, res) => {
      ranges.push(req.headers.range)
      if (ranges.length === 1) {
        res.writeHead(200, { 'content-length': blob.length })
        res.write(blob.subarray(0, 1 << 20), () => res.destroy())
        return
      }
      const from = Number(/bytes=(\d+)-/.exec(req.headers.range ?? '')?.[1] ?? 0)
      res.writeHead(206, { 'content-range': `bytes ${from}-${blob.length - 1}/${blob.length}`, 'content-length': blob.length - from }).end(blob.subarray(from))
    })
    try {
      const ref = parseReference(`${p.host}/a/b:1`)
      const got = await collect(blobChunks(new RegistryClient(ref.registry), ref, desc))
      expect(got.equals(blob)).toBe(true)
      expect(ranges[0]).toBeUndefined()
      expect(ranges[1]).toMatch(/^bytes=\d+-$/)
      expect(Number(/\d+/.exec(ranges[1] as string)?.[0])).toBeGreaterThan(0)
    } finally {
      await p.close()
    }
  })

  test('a server ignoring Range after a break: the bytes already received are skipped', async () => {
    let n = 0
    const p = await peer((req, res) => {
      n++
      res.writeHead(200, { 'content-length': blob.length })
      if (n === 1) res.write(blob.subarray(0, 1 << 20), () => res.destroy())
      else res.end(blob)
    })
    try {
      const ref = parseReference(`${p.host}/a/b:1`)
      expect((await collect(blobChunks(new RegistryClient(ref.registry), ref, desc))).equals(blob)).toBe(true)
    } finally {
      await p.close()
    }
  })

  test('credentials go to the registry, never to the host a blob is redirected to', async () => {
    const storageAuth: (string | undefined)[] = []
    const storage = await peer((req, res) => {
      storageAuth.push(req.headers.authorization)
      res.writeHead(200, { 'content-length': blob.length }).end(blob)
    })
    const registryAuth: (string | undefined)[] = []
    const registry = await peer((req, res) => {
      registryAuth.push(req.headers.authorization)
      if (!req.headers.authorization) return void res.writeHead(401, { 'www-authenticate': 'Basic realm="peer"' }).end()
      res.writeHead(307, { location: `${storage.url}/blob?sig=1` }).end()
    })
    try {
      const ref = parseReference(`${registry.host}/a/b:1`)
      const client = new RegistryClient(ref.registry, { auth: { username: 'u', password: 'p' } })
      expect((await collect(blobChunks(client, ref, desc))).equals(blob)).toBe(true)
      expect(registryAuth.at(-1)).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`)
      expect(storageAuth).toEqual([undefined])
    } finally {
      await registry.close()
      await storage.close()
    }
  })

  test('more bytes than the descriptor says stop with EDIGEST', async () => {
    const p = await peer((_req, res) => res.writeHead(200).end(Buffer.concat([blob, Buffer.alloc(10)])))
    try {
      const ref = parseReference(`${p.host}/a/b:1`)
      expect((await codeOf(collect(blobChunks(new RegistryClient(ref.registry), ref, desc)))).code).toBe('EDIGEST')
    } finally {
      await p.close()
    }
  })

  test('an unreachable registry is EREGISTRY; an AbortSignal stops the retries', async () => {
    const p = await peer((_req, res) => res.writeHead(503).end())
    try {
      const ref = parseReference(`${p.host}/a/b:1`)
      const ac = new AbortController()
      setTimeout(() => ac.abort(new Error('stop')), 300)
      const started = Date.now()
      await expect(fetchManifest(new RegistryClient(ref.registry, { signal: ac.signal }), ref, '1')).rejects.toThrow('stop')
      expect(Date.now() - started).toBeLessThan(2000)
    } finally {
      await p.close()
    }
    const ref = parseReference(`${p.host}/a/b:1`) // closed now: connection refused
    const refused = await codeOf(fetchManifest(new RegistryClient(ref.registry), ref, '1'))
    expect(refused.code).toBe('EREGISTRY')
    expect(refused.message).toMatch(/cannot reach registry .*ECONNREFUSED/)
  })

  test('a certificate no trusted CA signed fails at once, with no retry: connection errors are retried, TLS failures are not', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-tls-peer-'))
    const cert = makeServerCertificate(dir)
    const server = https.createServer({ cert: fs.readFileSync(cert.certFile), key: fs.readFileSync(cert.keyFile) }, (_req, res) => res.end())
    let connections = 0
    server.on('connection', () => connections++)
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    try {
      const ref = parseReference(`127.0.0.1:${(server.address() as net.AddressInfo).port}/a/b:1`)
      const err = await codeOf(fetchManifest(new RegistryClient(ref.registry, { insecure: false }), ref, '1'))
      expect(err.code).toBe('EREGISTRY')
      expect(err.message).toMatch(/SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT/)
      expect(connections).toBe(1)
    } finally {
      server.closeAllConnections()
      await new Promise((r) => server.close(r))
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  test('an auth challenge, its retry and a redirect on the same origin share one keep-alive connection', async () => {
    const sockets = new Set<unknown>()
    const p = await peer((req, res) => {
      sockets.add(req.socket)
      if (!req.headers.authorization) return void res.writeHead(401, { 'www-authenticate': 'Basic realm="peer"', 'content-length': 2 }).end('no')
      if (req.url?.startsWith('/v2/')) return void res.writeHead(307, { location: '/storage/blob', 'content-length': 0 }).end()
      res.writeHead(200, { 'content-length': blob.length }).end(blob)
    })
    try {
      const ref = parseReference(`${p.host}/a/b:1`)
      const client = new RegistryClient(ref.registry, { auth: { username: 'u', password: 'p' } })
      expect((await collect(blobChunks(client, ref, desc))).equals(blob)).toBe(true)
      expect(sockets.size).toBe(1)
    } finally {
      await p.close()
    }
  })
})

describe('endless bodies are read up to a bound', () => {
  /** At most this much is ever sent by an endless peer (the bound of the test, not of the client). */
  const SEND_CAP = 256 << 20

  /** Answers `status` with `head` then filler without end: until the client goes away, or SEND_CAP; counts what it sent. */
  function endless(res: http.ServerResponse, status: number, head: string, sent: { bytes: number }, headers: http.OutgoingHttpHeaders = {}): void {
    const filler = Buffer.alloc(64 << 10, 'A')
    res.writeHead(status, { 'content-type': 'application/json', ...headers })
    res.write(head)
    const pump = (): void => {
      while (!res.destroyed && sent.bytes < SEND_CAP) {
        sent.bytes += filler.length
        if (!res.write(filler)) return void res.once('drain', pump)
      }
      if (!res.destroyed) res.end()
    }
    res.on('close', () => res.removeAllListeners('drain'))
    pump()
  }

  /**
   * Fetches a manifest from a peer answering with `handler` (given the count of bytes it sends), expecting a
   * coded error that came quickly, with a short message, small RSS growth and little of the endless body sent.
   */
  async function failsBounded(handler: (req: http.IncomingMessage, res: http.ServerResponse, sent: { bytes: number }) => void): Promise<MiniContainerError> {
    const sent = { bytes: 0 }
    const p = await peer((req, res) => handler(req, res, sent))
    try {
      const ref = parseReference(`${p.host}/a/b:1`)
      global.gc?.()
      const rss = process.memoryUsage().rss
      const started = Date.now()
      const err = await codeOf(fetchManifest(new RegistryClient(ref.registry), ref, '1'))
      expect(Date.now() - started).toBeLessThan(3000)
      expect((process.memoryUsage().rss - rss) / 2 ** 20).toBeLessThan(100)
      expect(sent.bytes).toBeLessThan(64 << 20)
      expect(err.message.length).toBeLessThan(600)
      return err
    } finally {
      await p.close()
    }
  }

  test('a 404 with an endless body is ENOIMAGE with a short excerpt, at once', async () => {
    const err = await failsBounded((_req, res, sent) => endless(res, 404, 'no such manifest, and then ', sent))
    expect(err.code).toBe('ENOIMAGE')
    expect(err.message).toContain('no such manifest, and then AAAA')
  })

  test('a token service answering without end: EREGISTRY (a 200 over the token bound, a 500 with an excerpt)', async () => {
    for (const status of [200, 500]) {
      const err = await failsBounded((req, res, sent) => {
        if (req.url?.startsWith('/token')) return endless(res, status, '{"token":"', sent)
        res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${req.headers.host}/token",service="peer"`, 'content-length': 0 }).end()
      })
      expect(err.code).toBe('EREGISTRY')
      expect(err.message).toMatch(status === 200 ? /token service .* more than 1048576 bytes/ : /token service .* answered 500: \{"token":"AAAA/)
    }
  })

  test('an endless manifest is EREGISTRY once it passes 4 MiB', async () => {
    const err = await failsBounded((_req, res, sent) => endless(res, 200, '{"schemaVersion":2,', sent, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }))
    expect(err.code).toBe('EREGISTRY')
    expect(err.message).toMatch(/manifest .* larger than 4194304 bytes/)
  })
})
