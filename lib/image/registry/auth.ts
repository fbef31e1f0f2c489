/**
 * The registry auth handshake: reading a `WWW-Authenticate` challenge and
 * answering it, with basic credentials or with a bearer token fetched from
 * the challenge's realm (the Docker token protocol, as distribution's
 * `auth.token` and Docker Hub speak it).
 *
 * @module
 */
import { RegistryAuthError, RegistryError } from './errors'
import type { RegistryAuth } from './credentials'
import { errorDetail } from './error-body'
import { httpRequest, type HttpAgent, type HttpResponse } from './http'

/** A token answer is a few KiB of JSON (a JWT and its expiry); more than this is refused unread. */
const MAX_TOKEN_BODY = 1 << 20

/** A parsed `WWW-Authenticate` challenge. */
export interface Challenge {
  scheme: 'basic' | 'bearer'
  realm: string
  service?: string
  /** Space-separated scopes the registry asks for (in an insufficient_scope error: the one it needs). */
  scope?: string
  error?: string
}

/** Parses the first Basic or Bearer challenge of a `WWW-Authenticate` header. */
export function parseChallenge(header: string | null): Challenge | undefined {
  const m = header && /^\s*(basic|bearer)\s+(.*)$/i.exec(header)
  if (!m) return undefined
  const params: Record<string, string> = {}
  // key=value or key="quoted, with \" escapes", separated by commas.
  const re = /([a-zA-Z_][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?\s*/g
  for (let p = re.exec(m[2]); p; p = re.exec(m[2])) params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]
  return {
    scheme: m[1].toLowerCase() as Challenge['scheme'],
    realm: params.realm ?? '',
    ...(params.service !== undefined ? { service: params.service } : {}),
    ...(params.scope !== undefined ? { scope: params.scope } : {}),
    ...(params.error !== undefined ? { error: params.error } : {}),
  }
}

/** The basic Authorization header for a user and password. */
export function basicHeader(auth: { username: string; password: string }): string {
  return `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`
}

/**
 * Fetches a bearer token for `scopes` from the challenge's realm, sending
 * the user's basic credentials to it when there are some (the realm was
 * named by the registry the caller chose to trust with them). An https
 * realm is reached through `httpsAgent`, the registry's own TLS material.
 */
export async function fetchToken(
  registry: string,
  challenge: Challenge,
  scopes: string[],
  auth: RegistryAuth | undefined,
  transport: { signal?: AbortSignal; httpsAgent?: HttpAgent } = {},
): Promise<string> {
  const { signal, httpsAgent } = transport
  const scopeText = scopes.join(' ')
  let url: URL
  try {
    url = new URL(challenge.realm)
  } catch {
    throw new RegistryError(`${registry} asked for a token from an invalid realm "${challenge.realm}"`)
  }
  if (challenge.service) url.searchParams.set('service', challenge.service)
  for (const s of scopes) url.searchParams.append('scope', s)
  const headers: Record<string, string> = { accept: 'application/json' }
  if (auth && 'username' in auth) headers.authorization = basicHeader(auth)
  let res: HttpResponse
  try {
    res = await httpRequest(url, { method: 'GET', headers, signal, agent: url.protocol === 'https:' ? httpsAgent : undefined })
  } catch (err) {
    if (signal?.aborted) throw signal.reason
    throw new RegistryError(`cannot reach the token service ${challenge.realm} of ${registry}: ${(err as Error).message}`, undefined, { cause: err })
  }
  if (res.status === 401 || res.status === 403) {
    await res.cancel()
    throw new RegistryAuthError(registry, challenge.realm, scopeText, `the token service answered ${res.status}${auth ? ' (wrong username or password?)' : ' (credentials needed)'}`)
  }
  if (!res.ok) throw new RegistryError(`the token service ${challenge.realm} of ${registry} answered ${res.status}: ${await errorDetail(res)}`, res.status)
  const { bytes, complete } = await res.read(MAX_TOKEN_BODY).catch((err: Error) => {
    if (signal?.aborted) throw signal.reason
    throw new RegistryError(`the answer of the token service ${challenge.realm} of ${registry} broke off: ${err.message}`, undefined, { cause: err })
  })
  if (!complete) throw new RegistryError(`the token service ${challenge.realm} of ${registry} answered with more than ${MAX_TOKEN_BODY} bytes; refusing it (a token is a few KiB)`)
  let token: unknown
  try {
    const json = JSON.parse(bytes.toString('utf8')) as { token?: unknown; access_token?: unknown }
    token = json.token ?? json.access_token
  } catch {
    /* checked below */
  }
  if (typeof token !== 'string' || !token) throw new RegistryError(`the token service ${challenge.realm} of ${registry} sent no token`)
  return token
}
