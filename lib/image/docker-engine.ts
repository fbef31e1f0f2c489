/**
 * An image from a local Docker engine's store, through its API socket
 * (`GET /images/{name}/get`, the stream `docker save` writes): no docker CLI,
 * no registry, nothing downloaded.
 *
 * @module
 */
import * as http from 'node:http'
import type { Readable } from 'node:stream'
import { ImageNotFoundError, NotFoundError, throwIfAborted } from '../errors'
import { RegistryError } from './registry/errors'

/** Where Docker's engine listens unless told otherwise (`$DOCKER_HOST` as unix://path also counts). */
export function defaultDockerSocket(): string {
  const host = process.env.DOCKER_HOST
  return host?.startsWith('unix://') ? host.slice('unix://'.length) : '/var/run/docker.sock'
}

/** An image the engine does not have: ENOIMAGE saying where it was looked for. */
export class DockerImageMissingError extends ImageNotFoundError {
  /** @param ref - the reference asked for; @param socket - the engine's socket. */
  constructor(ref: string, socket: string) {
    super(ref)
    this.message = `the Docker engine at ${socket} has no image ${ref} (docker pull it there first, or use Image.pull)`
  }
}

/** Reads at most 4 KiB of an error answer, for the message. */
async function excerpt(res: Readable): Promise<string> {
  let text = ''
  for await (const chunk of res) {
    text += String(chunk)
    if (text.length > 4096) break
  }
  res.destroy()
  return text.trim().slice(0, 300)
}

/** The engine's answer on `socket` to `GET /images/<ref>/get`: the docker-archive stream, or a coded error. */
export function dockerSaveStream(ref: string, socket: string, signal?: AbortSignal): Promise<Readable> {
  throwIfAborted(signal, `copying ${ref} from Docker`)
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath: socket, path: `/images/${encodeURIComponent(ref)}/get`, ...(signal ? { signal } : {}) }, (res) => {
      if (res.statusCode === 200) return resolve(res)
      void excerpt(res).then((body) =>
        reject(res.statusCode === 404 ? new DockerImageMissingError(ref, socket) : new RegistryError(`the Docker engine at ${socket} answered ${res.statusCode} to saving ${ref}: ${body}`, res.statusCode)),
      )
    })
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED')
        reject(new NotFoundError(`no Docker engine answers at ${socket} (${err.code}): start Docker, or pass { socket } (or set DOCKER_HOST=unix://...)`))
      else reject(new RegistryError(`cannot reach the Docker engine at ${socket}: ${err.message}`, undefined, { cause: err }))
    })
  })
}
