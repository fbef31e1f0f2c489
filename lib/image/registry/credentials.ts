/**
 * Credentials for a registry: given by the caller, or read from the Docker
 * CLI's config file (`auths`, base64 "user:password"), which is where
 * `docker login` leaves them. Credential helpers (`credsStore`) would mean
 * running a program, which the library never does.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { InvalidArgumentError } from '../../errors'
import { DOCKER_HUB } from '../reference'

/** Credentials for a registry: a user and password (basic auth, or exchanged for a token), or a bearer token. */
export type RegistryAuth =
  | {
      /** User name, as for `docker login`. */
      username: string
      /** Password or access token of that user; sent only to the registry's own origin and its token service. */
      password: string
    }
  | {
      /** A bearer token, sent as is in `Authorization: Bearer`. */
      token: string
    }

/** The keys `docker login` uses for Docker Hub, in the order Docker looks them up. */
const hubKeys = ['https://index.docker.io/v1/', 'index.docker.io', 'docker.io', 'registry-1.docker.io']

/** Where the Docker CLI keeps its config: $DOCKER_CONFIG/config.json or ~/.docker/config.json. */
export function dockerConfigPath(): string {
  return path.join(process.env.DOCKER_CONFIG ?? path.join(os.homedir(), '.docker'), 'config.json')
}

/** Validates caller-given credentials. */
export function checkAuth(auth: RegistryAuth): RegistryAuth {
  const ok = 'token' in auth ? typeof auth.token === 'string' && auth.token !== '' : typeof auth.username === 'string' && typeof auth.password === 'string'
  if (!ok) throw new InvalidArgumentError('auth must be { username, password } or { token } with non-empty strings')
  return auth
}

/** The credentials `docker login` stored for `registry` (host[:port]), if any. */
export function credentialsFromDockerConfig(registry: string, file = dockerConfigPath()): RegistryAuth | undefined {
  let auths: Record<string, { auth?: string; username?: string; password?: string }> | undefined
  try {
    auths = (JSON.parse(fs.readFileSync(file, 'utf8')) as { auths?: typeof auths }).auths
  } catch {
    return undefined // no config, or not JSON: anonymous, as the Docker CLI does
  }
  if (!auths) return undefined
  const wanted = registry === DOCKER_HUB ? hubKeys : [registry]
  for (const [key, entry] of Object.entries(auths)) {
    if (!wanted.includes(key) && !wanted.includes(hostOf(key))) continue
    if (entry.username && entry.password) return { username: entry.username, password: entry.password }
    if (!entry.auth) continue
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
  }
  return undefined
}

/** "https://host:5000/v1/" -> "host:5000": config keys may be URLs. */
function hostOf(key: string): string {
  return key.replace(/^[a-z]+:\/\//, '').replace(/\/.*$/, '')
}
