/**
 * Ready when an HTTP request to a container port answers as expected.
 * Requests start once the port listens in the container's namespace (no
 * connection refused storms), then repeat on log lines and a backoff.
 *
 * @module
 */
import * as http from 'node:http'
import { untilListening } from './listening-ports'
import { backoff, type WaitContext, type WaitStrategy } from './strategy'

/** Options of `Wait.forHttp`. */
export interface HttpWaitOptions {
  /** Expected status code (default 200), or a predicate. */
  status?: number | ((status: number) => boolean)
  /** Request method (default GET). */
  method?: string
  /** Request headers. */
  headers?: Record<string, string>
  /** A pattern (or a substring) the response body must match. */
  body?: RegExp | string
  /** Per-request timeout (ms, default 1000). */
  requestTimeout?: number
}

interface Response {
  status: number
  body: string
}

/** Waits for an HTTP endpoint of the container to answer. */
export class HttpStrategy implements WaitStrategy {
  readonly awaitsExit = false

  /** @param path - request path, e.g. "/health"; @param port - the container port. */
  constructor(
    private readonly path: string,
    private readonly port: number,
    private readonly opts: HttpWaitOptions = {},
  ) {}

  get description(): string {
    const status = typeof this.opts.status === 'function' ? 'an accepted status' : `status ${this.opts.status ?? 200}`
    return `HTTP ${this.opts.method ?? 'GET'} ${this.path} on port ${this.port} answering ${status}${this.opts.body ? ` with body ${String(this.opts.body)}` : ''}`
  }

  async waitUntilReady(ctx: WaitContext): Promise<void> {
    await untilListening(ctx, [this.port])
    for (const delay of backoff(5, 100)) {
      if (ctx.signal.aborted) return
      const res = await this.request(ctx).catch(() => undefined)
      if (res && this.accepts(res)) return
      await ctx.changed(delay)
    }
  }

  private accepts(res: Response): boolean {
    const want = this.opts.status ?? 200
    if (typeof want === 'function' ? !want(res.status) : res.status !== want) return false
    const body = this.opts.body
    if (body === undefined) return true
    return typeof body === 'string' ? res.body.includes(body) : new RegExp(body.source, body.flags.replace(/[gy]/g, '')).test(res.body)
  }

  private request(ctx: WaitContext): Promise<Response> {
    const { host, port } = ctx.target.endpoint(this.port)
    return new Promise((resolve, reject) => {
      const req = http.request({ host, port, path: this.path, method: this.opts.method ?? 'GET', headers: this.opts.headers, signal: ctx.signal, timeout: this.opts.requestTimeout ?? 1000, agent: false }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }))
        res.on('error', reject)
      })
      req.on('timeout', () => req.destroy(new Error('request timed out')))
      req.on('error', reject)
      req.end()
    })
  }
}
