/**
 * `docker exec`'s plumbing: an exec shim with pipes for the output, read
 * through net.Socket (epoll, no thread-pool thread), and the result.
 *
 * @module
 */
import * as net from 'node:net'
import { Shim } from '../shim/shim'
import { closeQuietly, pipe } from '../sys/libc'
import type { ExecResult } from './types'

function collect(fd: number): Promise<string> {
  return new Promise<string>((resolve) => {
    const chunks: Buffer[] = []
    new net.Socket({ fd, readable: true, writable: false })
      .on('data', (c: Buffer) => chunks.push(c))
      .on('error', () => {})
      .on('close', () => resolve(Buffer.concat(chunks).toString('utf8')))
  })
}

/** Starts an exec shim with pipes for the output, and collects it. */
export async function runExec(spec: Buffer, stdin: string | Buffer | undefined): Promise<ExecResult> {
  const [outR, outW] = pipe()
  const [errR, errW] = pipe()
  // Without input: an empty pipe, never the host's /dev/null (root inside could fchmod a host device).
  const [inR, inW] = pipe()
  let shim: Shim
  try {
    shim = Shim.spawn('exec', { stdin: inR, stdout: outW, stderr: errW }, false).send(spec)
  } catch (err) {
    for (const fd of [outR, errR, inW]) closeQuietly(fd)
    throw err
  } finally {
    for (const fd of [outW, errW, inR]) closeQuietly(fd)
  }
  if (stdin === undefined) closeQuietly(inW)
  else new net.Socket({ fd: inW, readable: false, writable: true }).on('error', () => {}).end(stdin)
  const output = Promise.all([collect(outR), collect(errR)])
  await shim.hold(shim.started)
  const [exit, [stdout, stderr]] = await shim.hold(Promise.all([shim.exited, output]))
  return { ...exit, stdout, stderr }
}
