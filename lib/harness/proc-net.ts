/**
 * Listening TCP sockets of a network namespace, read from the host through
 * /proc/<pid>/net/tcp{,6} of a process inside it: nothing runs in the
 * container and nothing is needed in its image.
 *
 * @module
 */
import * as fs from 'node:fs'

const TCP_LISTEN = '0A'

/**
 * The local ports of the listening sockets in the text of /proc/net/tcp or
 * tcp6: a header line, then one socket per line,
 * "0: 0100007F:18EB 00000000:0000 0A ..." (local address:port in hex, state).
 */
export function parseListeningPorts(text: string): number[] {
  const ports: number[] = []
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/)
    if (fields[3] !== TCP_LISTEN) continue
    ports.push(parseInt(fields[1].slice(fields[1].lastIndexOf(':') + 1), 16))
  }
  return ports
}

function listeningIn(file: string, into: Set<number>): void {
  let text: string
  try {
    text = fs.readFileSync(file, 'latin1')
  } catch {
    return // no IPv6 in this kernel, or the process is gone
  }
  for (const port of parseListeningPorts(text)) into.add(port)
}

/** The TCP ports with a listening socket in the network namespace of `pid` (IPv4 and IPv6). */
export function listeningTcpPorts(pid: number): Set<number> {
  const ports = new Set<number>()
  listeningIn(`/proc/${pid}/net/tcp`, ports)
  listeningIn(`/proc/${pid}/net/tcp6`, ports)
  return ports
}
