/**
 * RUN's `--mount=type=secret` and `--mount=type=ssh`, as BuildKit carries
 * them out with what `docker buildx build --secret` and `--ssh` give:
 * a secret is a read-only file at its target (0400 root unless mode, uid,
 * gid say otherwise) and/or an environment variable of the RUN (`env=`);
 * an ssh mount is a socket at its target (default
 * /run/buildkit/ssh_agent.<n>, 0600) forwarding to the agent the build was
 * given, and the RUN's SSH_AUTH_SOCK names the first. A secret or agent the
 * build was not given is left out, or ENOTFOUND when the mount is
 * `required`. Values are never part of a step's key (a changed secret is a
 * cache hit, as in BuildKit), never in a layer and never on the runtime
 * root's disk: the file lives on a tmpfs (secret-files.ts) only while its
 * RUN runs, the variable goes to the RUN's process only (never in its
 * container's record), and the mount point is taken out of the layer.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as net from 'node:net'
import * as path from 'node:path'
import { InvalidArgumentError, NotFoundError } from '../errors'
import { BuildUnsupportedError } from './errors'
import type { BuildSecretSource } from '../image/image'
import type { MountOption } from '../storage/mount-types'
import { scratchPath } from './build-scratch'
import type { RunMount } from './run-mounts'
import { makeSecretDir } from './secret-files'

/** The secret and ssh mounts of one RUN: what to mount, and the variables they add. */
interface Provided {
  mounts: MountOption[]
  /** Variables for the RUN's process only (start's processEnv): a secret's value must not be in the container's record. */
  env: string[]
  /** Removes the files and closes the agent forwarders. */
  dispose(): Promise<void>
  /** Called once the RUN's program runs (its mounts made): removes what it no longer needs by path. */
  started?(): void
}

/** The secrets and ssh agents one build was given (checked when the build starts, as buildx does). */
export class RunSecrets {
  /**
   * @param root - the runtime root (agent sockets go in its build scratch directory; secret files on a tmpfs)
   * @param secrets - id -> where the secret comes from
   * @param agents - id -> the ssh agent's socket
   * @param rootless - the runtime is rootless: files stay the user's (root inside), other owners are EUNSUPPORTED
   */
  constructor(
    private readonly root: string,
    private readonly secrets: Readonly<Record<string, BuildSecretSource>> = {},
    private readonly agents: Readonly<Record<string, string>> = {},
    private readonly rootless = false,
  ) {
    for (const [id, s] of Object.entries(secrets)) checkSecret(id, s)
    for (const [id, socket] of Object.entries(agents)) {
      if (!fs.statSync(socket, { throwIfNoEntry: false })?.isSocket()) throw new NotFoundError(`Image.build(): ssh.${id} is ${JSON.stringify(socket)}, which is not a socket; give an ssh agent's socket, e.g. ssh: { default: process.env.SSH_AUTH_SOCK }`)
    }
  }

  /**
   * Runs `fn` with the secret and ssh mounts among `mounts` made, and removes them after. `fn` calls
   * `started` once the RUN's program runs: the secret files go then, their binds in the RUN's mount
   * namespace keeping them, so a build killed while the RUN runs leaves them nowhere.
   */
  async with<T>(mounts: RunMount[], fn: (mounts: MountOption[], env: string[], started: () => void) => Promise<T>): Promise<T> {
    const provided: Provided[] = []
    try {
      for (const m of mounts) {
        if (m.type === 'secret') provided.push(this.secret(m))
        if (m.type === 'ssh') provided.push(await this.agent(m))
      }
      const firstSsh = mounts.find((m) => m.type === 'ssh')
      const sshEnv = firstSsh ? [`SSH_AUTH_SOCK=${firstSsh.target}`] : []
      return await fn(
        provided.flatMap((p) => p.mounts),
        [...sshEnv, ...provided.flatMap((p) => p.env)],
        () => provided.forEach((p) => p.started?.()),
      )
    } finally {
      await Promise.all(provided.map((p) => p.dispose()))
    }
  }

  private secret(m: RunMount): Provided {
    const source = this.secrets[m.id!]
    if (!source) return this.missing(m, `secret ${m.id}: not found; give it to the build: secrets: { ${JSON.stringify(m.id)}: { src: '/path/to/file' } } (or { env: 'VAR' }, or { value })`)
    const value = secretValue(m.id!, source)
    const env = m.env ? [`${m.env}=${value.toString('utf8')}`] : []
    if (!m.target) return { mounts: [], env, dispose: async () => {} }
    const dir = makeSecretDir(this.rootless)
    const file = path.join(dir, 'secret')
    const remove = () => fs.rmSync(dir, { recursive: true, force: true })
    try {
      fs.writeFileSync(file, value, { mode: 0o600, flag: 'wx' })
      this.own(file, m, 0o400)
    } catch (err) {
      remove()
      throw err
    }
    return { mounts: [{ type: 'bind', source: file, target: m.target, readOnly: true }], env, dispose: async () => remove(), started: remove }
  }

  /** A socket in the scratch directory that forwards each connection to the agent (so its mode and owner are the mount's, not the agent's). */
  private async agent(m: RunMount): Promise<Provided> {
    const agentSocket = this.agents[m.id!]
    if (!agentSocket) return this.missing(m, `no SSH agent ${JSON.stringify(m.id)} was given to the build; give one: ssh: { ${JSON.stringify(m.id)}: process.env.SSH_AUTH_SOCK }`)
    const socket = scratchPath(this.root, 'ssh')
    const open = new Set<net.Socket>()
    const server = net.createServer((client) => {
      const upstream = net.connect(agentSocket)
      for (const s of [client, upstream]) {
        open.add(s)
        s.on('error', () => (client.destroy(), upstream.destroy()))
        s.on('close', () => open.delete(s))
      }
      client.pipe(upstream).pipe(client)
    })
    const dispose = async () => {
      open.forEach((s) => s.destroy())
      await new Promise((r) => server.close(r))
      fs.rmSync(socket, { force: true })
    }
    try {
      await new Promise<void>((resolve, reject) => server.once('error', reject).listen(socket, resolve))
      this.own(socket, m, 0o600)
    } catch (err) {
      await dispose()
      throw err
    }
    return { mounts: [{ type: 'bind', source: socket, target: m.target!, readOnly: false }], env: [], dispose }
  }

  /** A secret or agent the build was not given: left out, as BuildKit leaves out an optional one; ENOTFOUND when required. */
  private missing(m: RunMount, message: string): Provided {
    if (m.required) throw new NotFoundError(`RUN --mount=type=${m.type}: ${message}`)
    return { mounts: [], env: [], dispose: async () => {} }
  }

  /** Gives the file the mount's mode and owner (root by default). */
  private own(file: string, m: RunMount, defaultMode: number): void {
    fs.chmodSync(file, m.mode ?? defaultMode)
    const [uid, gid] = [m.uid ?? 0, m.gid ?? 0]
    if (!this.rootless) return fs.chownSync(file, uid, gid)
    // Rootless, the user's own files are root's inside; another id's would need the keeper.
    if (uid !== 0 || gid !== 0) throw new BuildUnsupportedError(`RUN --mount=type=${m.type},uid=${uid},gid=${gid}`, 'a rootless build gives secret and ssh mounts to root only; leave uid and gid out')
  }
}

/** buildx's checks of a secret's source when the build starts. */
function checkSecret(id: string, s: BuildSecretSource): void {
  if ('src' in s && !fs.existsSync(s.src)) throw new NotFoundError(`Image.build(): secrets.${id}.src ${JSON.stringify(s.src)} does not exist; give an existing file`)
  if ('env' in s && process.env[s.env] === undefined) throw new InvalidArgumentError(`Image.build(): secrets.${id}.env names ${s.env}, which is not set in this process's environment`)
}

function secretValue(id: string, s: BuildSecretSource): Buffer {
  if ('src' in s) return fs.readFileSync(s.src)
  if ('env' in s) return Buffer.from(process.env[s.env] ?? '')
  if ('value' in s) return Buffer.from(s.value)
  throw new InvalidArgumentError(`Image.build(): secrets.${id} must be { src }, { env } or { value }`)
}
