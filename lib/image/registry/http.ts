/**
 * The registry client's HTTP/1.1 transport, on node:http and node:https.
 * Bodies are Node streams, not WHATWG streams: a pull moves hundreds of
 * megabytes through them, and fetch's web-stream body cost a quarter more
 * CPU per byte (a promise and a DOM-style reader turn per socket read).
 * Redirects are never followed here; the client follows them itself, so
 * that credentials stay with the registry's own origin.
 *
 * @module
 */
import * as http from 'node:http'
import * as https from 'node:https'
import { Readable } from 'node:stream'
import { finished, pipeline } from 'node:stream/promises'

/** A request body: bytes, or a stream of them (sent chunked unless a content-length header is given). */
export type HttpBody = Buffer | AsyncIterable<Uint8Array>

/** Connections of a request: Node's global agents by default. */
export type HttpAgent = http.Agent

/** One HTTP request. */
export interface HttpRequestInit {
  method: string
  headers: Record<string, string>
  body?: HttpBody
  signal?: AbortSignal
  agent?: HttpAgent
}

/** A response's headers by case-insensitive name (repeated ones joined with ", ", as fetch's Headers does). */
export interface HttpHeaders {
  get(name: string): string | null
  has(name: string): boolean
}

/** The parts of a response the registry client reads; the body is an async-iterable Node stream of Buffers. */
export interface HttpResponse {
  readonly status: number
  /** True for 2xx. */
  readonly ok: boolean
  readonly headers: HttpHeaders
  readonly body: Readable
  /**
   * The body's first `max` bytes at most: a longer body is cut off there
   * (its connection dropped) and `complete` is false, so a peer sending
   * without end costs `max` bytes of memory, not all it sends.
   */
  read(max: number): Promise<{ bytes: Buffer; complete: boolean }>
  /** Drops the body: a short one is read to its end so that the connection is reused, a long one cuts the connection. */
  cancel(): Promise<void>
}

/** Sends one request; resolves once the response's headers arrived. */
export function httpRequest(url: URL, init: HttpRequestInit): Promise<HttpResponse> {
  const send = url.protocol === 'https:' ? https.request : http.request
  return new Promise((resolve, reject) => {
    const req = send(url, { method: init.method, headers: init.headers, signal: init.signal, agent: init.agent }, (msg) => resolve(new NodeHttpResponse(msg)))
    req.on('error', reject) // after the response, a no-op: the body stream carries later failures
    const body = init.body
    if (body === undefined || Buffer.isBuffer(body)) req.end(body)
    // A failed upload also fails the request, which rejects above or breaks the response body.
    else pipeline(body instanceof Readable ? body : Readable.from(body), req).catch((err) => req.destroy(err))
  })
}

/** Bodies up to this many bytes are drained rather than cut off by {@link HttpResponse.cancel}. */
const SMALL_BODY = 64 << 10

class NodeHttpResponse implements HttpResponse {
  readonly status: number
  readonly ok: boolean
  readonly headers: HttpHeaders

  constructor(readonly body: http.IncomingMessage) {
    this.status = body.statusCode ?? 0
    this.ok = this.status >= 200 && this.status < 300
    this.headers = new NodeHeaders(body.headers)
  }

  async read(max: number): Promise<{ bytes: Buffer; complete: boolean }> {
    const chunks: Buffer[] = []
    let total = 0
    for await (const chunk of this.body) {
      const buf = chunk as Buffer
      if (total + buf.length > max) {
        chunks.push(buf.subarray(0, max - total))
        this.body.destroy()
        return { bytes: Buffer.concat(chunks), complete: false }
      }
      chunks.push(buf)
      total += buf.length
    }
    return { bytes: Buffer.concat(chunks), complete: true }
  }

  async cancel(): Promise<void> {
    // A short body (an error document, a redirect's) is read to its end so the connection is reused.
    if (Number(this.body.headers['content-length']) <= SMALL_BODY) await finished(this.body.resume()).catch(() => undefined)
    else this.body.destroy()
  }
}

/** Node's parsed headers (names lower-cased) behind the Headers-like getter the client uses. */
class NodeHeaders implements HttpHeaders {
  constructor(private readonly parsed: http.IncomingHttpHeaders) {}

  get(name: string): string | null {
    const value = this.parsed[name.toLowerCase()]
    return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value
  }

  has(name: string): boolean {
    return this.parsed[name.toLowerCase()] !== undefined
  }
}
