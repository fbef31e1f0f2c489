/**
 * A registry's own TLS material, where Docker keeps it:
 * `/etc/docker/certs.d/<host[:port]>/` holds CA certificates (`*.crt`,
 * trusted besides the system's) and a client certificate (`<name>.cert`
 * with its `<name>.key`), read the way dockerd reads them, so that a
 * registry set up for Docker works here unchanged.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as tls from 'node:tls'
import { InvalidArgumentError } from '../../errors'

/** Docker's directory of per-registry TLS material. */
export const DOCKER_CERTS_DIR = '/etc/docker/certs.d'

/** TLS options for one registry's connections (node:https Agent options). */
export interface RegistryTls {
  /** The system's CAs and the registry's own. */
  ca?: string[]
  /** A client certificate and its key (PEM). */
  cert?: string
  key?: string
}

/**
 * The TLS material `certsDir` holds for `registry` (host[:port]), or
 * undefined when it has none. A client certificate without its key, or a
 * key without its certificate, is EINVALID, as dockerd refuses them.
 */
export function registryTls(registry: string, certsDir = DOCKER_CERTS_DIR): RegistryTls | undefined {
  if (registry === '' || registry === '.' || registry === '..' || registry.includes('/')) return undefined
  const dir = path.join(certsDir, registry)
  const names = filesOf(dir)
  if (!names.length) return undefined
  const read = (name: string) => fs.readFileSync(path.join(dir, name), 'utf8')
  const cas = names.filter((n) => n.endsWith('.crt')).map(read)
  for (const n of names.filter((n) => n.endsWith('.key')))
    if (!names.includes(`${n.slice(0, -4)}.cert`)) throw new InvalidArgumentError(`${path.join(dir, n)} has no client certificate ${n.slice(0, -4)}.cert beside it`)
  const certs = names.filter((n) => n.endsWith('.cert'))
  for (const n of certs)
    if (!names.includes(`${n.slice(0, -5)}.key`))
      throw new InvalidArgumentError(`${path.join(dir, n)} has no key ${n.slice(0, -5)}.key beside it (CA certificates must end in .crt)`)
  const client = certs[0]?.slice(0, -5) // as Go's TLS client, the first pair is the one presented
  if (!cas.length && client === undefined) return undefined
  return {
    ...(cas.length ? { ca: [...tls.rootCertificates, ...cas] } : {}),
    ...(client !== undefined ? { cert: read(`${client}.cert`), key: read(`${client}.key`) } : {}),
  }
}

/** Sorted names of the directory's entries; none when it does not exist. */
function filesOf(dir: string): string[] {
  try {
    return fs.readdirSync(dir).sort()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return []
    throw err
  }
}
