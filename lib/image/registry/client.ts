/**
 * An HTTP client for one registry speaking the OCI Distribution API v2,
 * on node:http (./http): it answers auth challenges (basic, bearer token,
 * one re-scope on insufficient_scope), retries 408, 429 and 5xx with
 * backoff that honours Retry-After, and follows redirects itself so that
 * credentials never go to another host (blob downloads are redirected to
 * storage hosts).
 *
 * @module
 */
import * as https from 'node:https'
import { setTimeout as delay } from 'node:timers/promises'
import { DOCKER_HUB } from '../reference'
import { basicHeader, fetchToken, parseChallenge, type Challenge } from './auth'
import { credentialsFromDockerConfig, checkAuth, type RegistryAuth } from './credentials'
import { AbortedError } from '../../errors'
import { RegistryAuthError, RegistryError } from './errors'
import { registryTls } from './certs'
import { errorDetail } from './error-body'
import { httpRequest, type HttpBody, type HttpResponse } from './http'

/** How to reach a registry. */
export interface RegistryConnectOptions {
  /** Credentials; default: ~/.docker/config.json "auths" for the registry, else anonymous. */
  auth?: RegistryAuth
  /** Plain http instead of https. Default: true only for loopback registries (localhost, 127.0.0.0/8, ::1), as Docker. */
  insecure?: boolean
  /**
   * Where per-registry TLS material lives, in Docker's layout: `<certsDir>/<host[:port]>/` with CA
   * certificates (`*.crt`) and a client certificate (`<name>.cert` + `<name>.key`). Default
   * `/etc/docker/certs.d`, where Docker's own setup for the registry already works.
   */
  certsDir?: string
  /** Cancels every request. */
  signal?: AbortSignal
}

/** A request body that can be produced again for a retry. */
export type BodySource = () => HttpBody

/** One request to the registry. */
export interface RegistryRequest {
  method?: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE'
  headers?: Record<string, string>
  body?: BodySource
  /** Scopes the request needs a token for, e.g. ["repository:team/app:pull"]. */
  scopes: string[]
}

/** Docker Hub's API lives on another host than its name. */
const HUB_ENDPOINT = 'registry-1.docker.io'
const MAX_ATTEMPTS = 5
const MAX_REDIRECTS = 10
const MAX_RETRY_AFTER_MS = 60_000

/** True for registries Docker treats as insecure by default: loopback ones. */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registry.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1')
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)
}

/** A connection to one registry, holding its tokens; one per pull or push. */
export class RegistryClient {
  /** Origin of the API, e.g. "https://registry-1.docker.io" or "http://127.0.0.1:5000". */
  readonly origin: string
  private readonly auth: RegistryAuth | undefined
  /** Authorization header by scope set, learnt from challenges. */
  private readonly authorizations = new Map<string, string>()
  private basic: string | undefined
  /** Connections with the registry's own CAs or client certificate, when it has some. */
  private readonly agent: https.Agent | undefined

  /**
   * @param registry - host[:port] as in a reference ("docker.io" is reached at registry-1.docker.io)
   * @param opts - credentials, transport and cancellation
   */
  constructor(
    readonly registry: string,
    readonly opts: RegistryConnectOptions = {},
  ) {
    const insecure = opts.insecure ?? isLoopbackRegistry(registry)
    this.origin = `${insecure ? 'http' : 'https'}://${registry === DOCKER_HUB ? HUB_ENDPOINT : registry}`
    this.auth = opts.auth ? checkAuth(opts.auth) : credentialsFromDockerConfig(registry)
    if (this.auth && 'token' in this.auth) this.basic = `Bearer ${this.auth.token}`
    const tlsMaterial = insecure ? undefined : registryTls(registry, opts.certsDir)
    if (tlsMaterial) this.agent = new https.Agent({ keepAlive: true, ...tlsMaterial })
  }

  /** The AbortSignal of the operation this client serves. */
  get signal(): AbortSignal | undefined {
    return this.opts.signal
  }

  /**
   * Sends a request to `pathOrUrl` (a path under /v2/ or an absolute URL
   * the registry gave, such as an upload location), authenticating and
   * retrying as needed. Returns any final response; the caller checks the status.
   */
  async request(pathOrUrl: string, req: RegistryRequest): Promise<HttpResponse> {
    const url = new URL(pathOrUrl, this.origin)
    let scopes = req.scopes
    let rescoped = false
    let answered: Challenge | undefined
    for (let attempt = 1; ; attempt++) {
      const res = await this.send(url, req, this.authorizationFor(scopes))
      if (res.status === 401 || (res.status === 403 && res.headers.has('www-authenticate'))) {
        await res.cancel()
        const challenge = parseChallenge(res.headers.get('www-authenticate'))
        if (!challenge) throw new RegistryAuthError(this.registry, '', scopes.join(' '), `${res.status} without a challenge`)
        const insufficient = challenge.error === 'insufficient_scope' && challenge.scope && !rescoped && !scopes.includes(challenge.scope)
        if (answered && !insufficient) throw this.rejected(answered, scopes)
        if (insufficient) {
          scopes = [...scopes, challenge.scope as string]
          rescoped = true
        }
        await this.answer(challenge, scopes)
        answered = challenge
        continue
      }
      if (!isRetryable(res.status) || attempt >= MAX_ATTEMPTS) return res
      await res.cancel()
      await this.backoff(attempt, res.headers.get('retry-after'))
    }
  }

  /** Throws a RegistryError for a failed response, with the registry's own error codes and messages. */
  async fail(res: HttpResponse, what: string): Promise<never> {
    const detail = await errorDetail(res)
    throw new RegistryError(`${what}: ${this.registry} answered ${res.status}${detail ? ` (${detail})` : ''}`, res.status)
  }

  /** Returns `res` (body discarded) when its status is one of `ok` (and it has a Location when `location`), else throws like {@link fail}. */
  async expectStatus(res: HttpResponse, ok: number[], what: string, location = false): Promise<HttpResponse> {
    if (!ok.includes(res.status) || (location && !res.headers.get('location'))) await this.fail(res, what)
    await res.cancel()
    return res
  }

  /** One logical request: transient network errors retried, redirects followed by hand. */
  private async send(url: URL, req: RegistryRequest, authorization: string | undefined): Promise<HttpResponse> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.followRedirects(url, req, authorization)
      } catch (err) {
        if (this.signal?.aborted) throw this.signal.reason
        if (err instanceof RegistryError || isTlsFailure(err) || isUnreachable(err) || attempt >= MAX_ATTEMPTS) throw networkError(this.registry, url, err)
        await this.backoff(attempt, null)
      }
    }
  }

  private async followRedirects(url: URL, req: RegistryRequest, authorization: string | undefined): Promise<HttpResponse> {
    let method = req.method ?? 'GET'
    let body = req.body
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      // Credentials only ever go to the registry's own origin.
      const sameOrigin = url.origin === this.origin
      const headers = { ...req.headers, ...(authorization && sameOrigin ? { authorization } : {}) }
      const res = await httpRequest(url, { method, headers, body: body?.(), signal: this.signal, agent: this.agentFor(url) })
      const location = res.headers.get('location')
      if (![301, 302, 303, 307, 308].includes(res.status) || !location || method === 'PUT' || method === 'POST' || method === 'PATCH') return res
      await res.cancel()
      url = new URL(location, url)
      if (res.status === 303) {
        method = 'GET'
        body = undefined
      }
    }
    throw new RegistryError(`${this.registry}: more than ${MAX_REDIRECTS} redirects for ${url.pathname}`)
  }

  /** The registry's TLS material serves every https host of the operation (its token service, its storage), as in dockerd. */
  private agentFor(url: URL): https.Agent | undefined {
    return url.protocol === 'https:' ? this.agent : undefined
  }

  private authorizationFor(scopes: string[]): string | undefined {
    return this.authorizations.get(scopes.join(' ')) ?? this.basic
  }

  /** Learns how to authenticate from a challenge (a basic header, or a token for the scopes). */
  private async answer(challenge: Challenge, scopes: string[]): Promise<void> {
    if (challenge.scheme === 'basic') {
      if (!this.auth || !('username' in this.auth)) throw new RegistryAuthError(this.registry, challenge.realm, scopes.join(' '), 'the registry needs a username and password')
      this.basic = basicHeader(this.auth)
      return
    }
    const token = await fetchToken(this.registry, challenge, scopes, this.auth, { signal: this.signal, httpsAgent: this.agent })
    this.authorizations.set(scopes.join(' '), `Bearer ${token}`)
  }

  private rejected(challenge: Challenge, scopes: string[]): RegistryAuthError {
    const what = this.auth ? 'the credentials were refused' : 'anonymous access was refused (credentials needed)'
    return new RegistryAuthError(this.registry, challenge.realm, challenge.scope ?? scopes.join(' '), `${what}${challenge.error ? `: ${challenge.error}` : ''}`)
  }

  /** Exponential backoff with jitter, or what Retry-After asks (seconds or an HTTP date), bounded. */
  private async backoff(attempt: number, retryAfter: string | null): Promise<void> {
    let ms = Math.min(250 * 2 ** (attempt - 1), 8000) * (0.75 + Math.random() / 2)
    if (retryAfter) {
      const seconds = Number(retryAfter)
      const asked = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(retryAfter) - Date.now()
      if (Number.isFinite(asked)) ms = Math.min(Math.max(asked, 0), MAX_RETRY_AFTER_MS)
    }
    await delay(ms, undefined, { signal: this.signal }).catch((err) => {
      throw this.signal?.aborted ? this.signal.reason : err // the caller's reason, as fetch rejects with it
    })
  }
}

/** Runs `op`; when `signal` fired meanwhile, whatever it threw becomes EABORTED with the signal's reason (the public error model). */
export async function cancellable<T>(what: string, signal: AbortSignal | undefined, op: () => Promise<T>): Promise<T> {
  try {
    return await op()
  } catch (err) {
    if (signal?.aborted) throw new AbortedError(what, signal.reason)
    throw err
  }
}

/** Statuses worth a retry: request timeout, too many requests, server errors. */
function isRetryable(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status !== 501 && status !== 505)
}

/**
 * A certificate the chain does not verify, or TLS spoken to a plain-http
 * server: the same every time, so not worth a retry.
 */
function isTlsFailure(err: unknown): boolean {
  const code = (err as { code?: unknown }).code
  return typeof code === 'string' && (code === 'EPROTO' || /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_)/.test(code))
}

/**
 * No registry there at all: its name does not resolve (EAI_AGAIN offline), nothing listens, no route.
 * Retrying only delays the answer (by seconds, before every run() of an image not pulled yet), as
 * `docker pull` fails at once; a connection that breaks once made (ECONNRESET) is still retried.
 */
function isUnreachable(err: unknown): boolean {
  const code = ((err as { cause?: { code?: unknown } }).cause ?? (err as { code?: unknown })).code
  return typeof code === 'string' && ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'].includes(code)
}

function networkError(registry: string, url: URL, err: unknown): RegistryError {
  if (err instanceof RegistryError) return err
  const cause = (err as { cause?: { code?: string; message?: string } }).cause ?? (err as { code?: string; message?: string })
  const why = cause.code ?? cause.message
  const hint = url.protocol === 'https:' && /EPROTO|SSL|ssl|wrong version/.test(String(cause.message ?? why)) ? ' (a plain-http registry? pass { insecure: true })' : ''
  return new RegistryError(`cannot reach registry ${registry} at ${url.origin}: ${why}${hint}`, undefined, { cause: err })
}
