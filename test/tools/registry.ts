/**
 * A private CNCF distribution registry (Debian's docker-registry) for
 * tests: listens on 127.0.0.1 at a free port, stores into its own temp
 * directory, optionally with htpasswd basic auth or token auth (a token
 * service the test process serves on loopback, issuing real RS256 JWTs
 * signed with a key made for the run). Stopping it kills the process and
 * removes every file it made.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import * as crypto from 'node:crypto'
import * as fs from 'node:fs'
import * as http from 'node:http'
import * as net from 'node:net'
import * as os from 'node:os'
import * as path from 'node:path'

/** Who may do what, for the token service: returns the actions granted on a repository. */
export type TokenPolicy = (user: string | undefined, repository: string, asked: string[]) => string[]

/** How the registry authenticates. */
export type RegistryAuthMode =
  | { type: 'none' }
  | { type: 'htpasswd'; users: Record<string, string> }
  | { type: 'token'; users: Record<string, string>; policy?: TokenPolicy; anonymous?: boolean }

/** How the registry is reached. */
export interface RegistryTransport {
  /** Serve https with a certificate for 127.0.0.1 signed by a CA made for the run (its file is `caFile`). */
  tls?: boolean
  /** With tls: require a client certificate from that CA (one is made: `clientCert`). */
  clientCerts?: boolean
}

/** A running test registry. */
export interface TestRegistry {
  /** "127.0.0.1:<port>". */
  host: string
  port: number
  dir: string
  /** The token service's realm (token mode). */
  realm?: string
  /** The PEM file of the CA that signed the registry's certificate (tls). */
  caFile?: string
  /** A client certificate the registry accepts, and its key (clientCerts). */
  clientCert?: { certFile: string; keyFile: string }
  /** Token requests seen, with their scopes (token mode). */
  tokenRequests: { user?: string; scopes: string[] }[]
  stop(): Promise<void>
}

/** Fails (never skips) when a tool the test needs is missing. */
export function requireTool(name: string, pkg: string): void {
  const found = (process.env.PATH ?? '/usr/bin:/bin').split(':').some((d) => fs.existsSync(path.join(d, name)))
  if (!found) throw new Error(`${name} is not installed; this test needs it (apt-get install ${pkg})`)
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const srv = net.createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const port = (srv.address() as net.AddressInfo).port
  await new Promise((r) => srv.close(r))
  return port
}

/** Starts docker-registry on 127.0.0.1 with its own storage and config. */
export async function startRegistry(mode: RegistryAuthMode = { type: 'none' }, transport: RegistryTransport = {}): Promise<TestRegistry> {
  requireTool('docker-registry', 'docker-registry')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-registry-'))
  const port = await freePort()
  const tokenRequests: TestRegistry['tokenRequests'] = []
  let tokenServer: http.Server | undefined
  let authYaml = ''
  let realm: string | undefined
  if (mode.type === 'htpasswd') {
    requireTool('htpasswd', 'apache2-utils')
    const file = path.join(dir, 'htpasswd')
    for (const [user, pass] of Object.entries(mode.users))
      execFileSync('htpasswd', ['-Bb', ...(fs.existsSync(file) ? [] : ['-c']), file, user, pass], { stdio: 'ignore' })
    authYaml = `auth:\n  htpasswd:\n    realm: test-basic-realm\n    path: ${file}\n`
  } else if (mode.type === 'token') {
    const issued = await startTokenService(dir, mode, tokenRequests)
    tokenServer = issued.server
    realm = issued.realm
    authYaml = `auth:\n  token:\n    realm: ${realm}\n    service: mc-test-registry\n    issuer: mc-test-issuer\n    rootcertbundle: ${issued.certFile}\n`
  }
  const tls = transport.tls ? makeServerCertificate(dir) : undefined
  const clientCert = tls && transport.clientCerts ? signCertificate(dir, 'client', '/CN=mc-test-client', 'extendedKeyUsage=clientAuth\n') : undefined
  const tlsYaml = tls
    ? `  tls:\n    certificate: ${tls.certFile}\n    key: ${tls.keyFile}\n` + (clientCert ? `    clientcas:\n      - ${tls.caFile}\n` : '')
    : ''
  const config = path.join(dir, 'config.yml')
  fs.writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\n  delete:\n    enabled: true\n` +
      `http:\n  addr: 127.0.0.1:${port}\n${tlsYaml}${authYaml}`,
  )
  // Dies with this process even when it is killed outright (setpriv's parent-death signal).
  const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', 'docker-registry', 'serve', config], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (d) => (stderr = (stderr + d).slice(-4000)))
  const stop = async () => {
    await kill(child)
    await new Promise((r) => (tokenServer ? tokenServer.close(r) : r(undefined)))
    fs.rmSync(dir, { recursive: true, force: true })
  }
  try {
    await waitForPort(port, child, () => stderr)
  } catch (err) {
    await stop()
    throw err
  }
  return { host: `127.0.0.1:${port}`, port, dir, realm, caFile: tls?.caFile, clientCert, tokenRequests, stop }
}

/** A CA, and a certificate for IP 127.0.0.1 it signed (openssl); PEM files in `dir`. */
export function makeServerCertificate(dir: string): { caFile: string; certFile: string; keyFile: string } {
  const ca = selfSigned(dir, 'ca', '/CN=mc-test-registry-ca')
  return { caFile: ca.certFile, ...signCertificate(dir, 'tls', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n') }
}

/** A key `<name>.key` and a self-signed certificate `<name>.crt` for `subject` (openssl), in `dir`. */
function selfSigned(dir: string, name: string, subject: string): { certFile: string; keyFile: string } {
  requireTool('openssl', 'openssl')
  const keyFile = path.join(dir, `${name}.key`)
  const certFile = path.join(dir, `${name}.crt`)
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', subject], { stdio: 'ignore' })
  return { certFile, keyFile }
}

/** A key and a certificate `<name>.crt` signed by the CA in `dir` (ca.crt, ca.key), with `extensions`. */
function signCertificate(dir: string, name: string, subject: string, extensions: string): { certFile: string; keyFile: string } {
  const file = (ext: string) => path.join(dir, `${name}.${ext}`)
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' })
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', file('key'), '-out', file('csr'), '-subj', subject)
  fs.writeFileSync(file('ext'), extensions)
  openssl('x509', '-req', '-in', file('csr'), '-CA', path.join(dir, 'ca.crt'), '-CAkey', path.join(dir, 'ca.key'), '-CAcreateserial', '-out', file('crt'), '-days', '1', '-extfile', file('ext'))
  return { certFile: file('crt'), keyFile: file('key') }
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((r) => child.once('exit', r))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
  await exited
  clearTimeout(timer)
}

async function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${log()}`)
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy()
        resolve(true)
      })
      s.on('error', () => resolve(false))
    })
    if (ok) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`docker-registry did not listen on 127.0.0.1:${port}: ${log()}`)
}

/** A key and self-signed certificate (openssl), and an HTTP token service on loopback that signs RS256 JWTs. */
async function startTokenService(dir: string, mode: Extract<RegistryAuthMode, { type: 'token' }>, seen: TestRegistry['tokenRequests']) {
  const { keyFile, certFile } = selfSigned(dir, 'token', '/CN=mc-test-token')
  const key = fs.readFileSync(keyFile)
  const certDer = new crypto.X509Certificate(fs.readFileSync(certFile)).raw.toString('base64')
  const policy = mode.policy ?? ((_user, _repo, asked) => asked)
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    const user = basicUser(req.headers.authorization, mode.users)
    if (user === null || (user === undefined && !mode.anonymous)) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"bad credentials"}')
      return
    }
    const scopes = url.searchParams.getAll('scope')
    seen.push({ user, scopes })
    const access = scopes
      .flatMap((s) => s.split(' '))
      .map((s) => {
        const [type, name, actions] = s.split(':')
        return { type, name, actions: policy(user, name, (actions ?? '').split(',').filter(Boolean)) }
      })
    const now = Math.floor(Date.now() / 1000)
    const claims = { iss: 'mc-test-issuer', sub: user ?? '', aud: url.searchParams.get('service'), exp: now + 300, nbf: now - 10, iat: now, jti: crypto.randomUUID(), access }
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url')
    const signing = `${b64({ alg: 'RS256', typ: 'JWT', x5c: [certDer] })}.${b64(claims)}`
    const token = `${signing}.${crypto.sign('sha256', Buffer.from(signing), key).toString('base64url')}`
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, expires_in: 300, issued_at: new Date().toISOString() }))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const realm = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/token`
  return { server, realm, certFile }
}

/** The user a basic header names when its password is right; undefined without a header; null when wrong. */
function basicUser(header: string | undefined, users: Record<string, string>): string | undefined | null {
  if (!header) return undefined
  const decoded = Buffer.from(header.replace(/^Basic /i, ''), 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  const user = decoded.slice(0, colon)
  return colon > 0 && users[user] === decoded.slice(colon + 1) ? user : null
}
