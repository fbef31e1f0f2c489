/**
 * Name resolution through /etc/hosts: each container's hosts file holds a
 * section, between two marker comments, listing the peers it can reach by
 * name. The network layer owns only that section; the rest of the file
 * (localhost, extra hosts) belongs to the container layer.
 *
 * The file is bind-mounted into the running container, so it is always
 * rewritten in place (same inode: truncate and write), never replaced.
 *
 * @module
 */
import * as fs from 'node:fs'

const BEGIN = '# minicontainer network: begin (managed, do not edit)'
const END = '# minicontainer network: end'

/** One hosts line: an address and the names it answers to. */
export interface HostEntry {
  ip: string
  names: string[]
}

/** The managed section, markers included, ending with a newline; one line per address, names in first-seen order. */
export function renderSection(entries: HostEntry[]): string {
  const byIp = new Map<string, Set<string>>()
  for (const e of entries) for (const n of e.names) (byIp.get(e.ip) ?? byIp.set(e.ip, new Set()).get(e.ip)!).add(n)
  const lines = [...byIp].map(([ip, names]) => `${ip}\t${[...names].join(' ')}`)
  return [BEGIN, ...lines, END].join('\n') + '\n'
}

/** `text` with its managed section replaced by `section` (appended when it has none). */
export function spliceSection(text: string, section: string): string {
  const start = text.indexOf(BEGIN)
  const endMark = text.indexOf(END, Math.max(start, 0))
  if (start < 0 || endMark < 0) return (text === '' || text.endsWith('\n') ? text : `${text}\n`) + section
  let end = endMark + END.length
  if (text[end] === '\n') end++
  return text.slice(0, start) + section + text.slice(end)
}

/** Rewrites the managed section of `file` in place; does nothing when the file does not exist (yet). */
export function updateHostsFile(file: string, section: string): void {
  let fd: number
  try {
    fd = fs.openSync(file, 'r+')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    throw err
  }
  try {
    const next = Buffer.from(spliceSection(fs.readFileSync(fd, 'utf8'), section))
    fs.ftruncateSync(fd, 0)
    fs.writeSync(fd, next, 0, next.length, 0)
  } finally {
    fs.closeSync(fd)
  }
}
