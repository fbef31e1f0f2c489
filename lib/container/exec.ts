/**
 * `docker exec`'s plumbing: an exec shim with pipes for the output, read
 * through net.Socket (epoll, no thread-pool thread), and the result.
 *
 * @module
 */
import * as net from 'node:net'
import { AbortedError, throwIfAborted } from '../errors'
import { Shim } from '../shim/shim'
import { closeQuietly, pipe } from '../sys/libc'
import { signalQuietly } from '../sys/signal-quietly'
import type { ExecResult } from './types'

/** A pipe's bytes as text once every writer closed it; `socket` can be destroyed to stop waiting. */
function collect(fd: number): { text: Promise<string>; socket: net.Socket } {
  const chunks: Buffer[] = []
  const socket = new net.Socket({ fd, readable: true, writable: false })
  const text = new Promise<string>((resolve) => {
    socket
      .on('data', (c: Buffer) => chunks.push(c))
      .on('error', () => {})
      .on('close', () => resolve(Buffer.concat(chunks).toString('utf8')))
  })
  return { text, socket }
}

/**
 * Starts an exec shim with pipes for the output, and collects it. Aborting
 * `signal` kills the command's process group and rejects with EABORTED once
 * the command is gone.
 */
export async function runExec(spec: Buffer, stdin: string | Buffer | undefined, signal?: AbortSignal): Promise<ExecResult> {
  const what = 'exec'
  throwIfAborted(signal, what)
  const [outR, outW] = pipe()
  const [errR, errW] = pipe()
  // Without input: an empty pipe, never the host's /dev/null (root inside could fchmod a host device).
  const [inR, inW] = pipe()
  let shim: Shim
  try {
    shim = await Shim.forExec({ stdin: inR, stdout: outW, stderr: errW })
    // Aborted while the shim was forked: it never gets the spec, so the command never starts.
    if (signal?.aborted) {
      shim.kill()
      throw new AbortedError(what, signal.reason)
    }
    shim.send(spec)
  } catch (err) {
    for (const fd of [outR, errR, inW]) closeQuietly(fd)
    throw err
  } finally {
    for (const fd of [outW, errW, inR]) closeQuietly(fd)
  }
  if (stdin === undefined) closeQuietly(inW)
  else new net.Socket({ fd: inW, readable: false, writable: true }).on('error', () => {}).end(stdin)
  const out = collect(outR)
  const err = collect(errR)
  const pid = await shim.hold(shim.started)
  const cancel = () => {
    // The exec's process group (the shim makes the program a group leader): it and what it started.
    signalQuietly(-pid, 'SIGKILL')
    // A process that left the group may still hold the pipes: stop waiting for them.
    out.socket.destroy()
    err.socket.destroy()
  }
  signal?.addEventListener('abort', cancel, { once: true })
  if (signal?.aborted) cancel()
  try {
    const [exit, stdout, stderr] = await shim.hold(Promise.all([shim.exited, out.text, err.text]))
    if (signal?.aborted) throw new AbortedError(what, signal.reason)
    return { ...exit, stdout, stderr }
  } finally {
    signal?.removeEventListener('abort', cancel)
  }
}
