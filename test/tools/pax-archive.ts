/** Archives with owners, modes and user.* attributes, written by Python's tarfile (an independent producer: PAX SCHILY.xattr records). */
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'

/** One entry: a directory when `data` is undefined; `note` becomes its user.note attribute. */
export interface PaxEntry {
  name: string
  mode: number
  /** Its uid and gid. */
  uid: number
  note?: string
  data?: string
}

const script = `import io, json, sys, tarfile
t = tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT)
for e in json.loads(sys.argv[2]):
    i = tarfile.TarInfo(e['name']); i.mode = e['mode']; i.uid = i.gid = e['uid']
    if e.get('note') is not None: i.pax_headers = {'SCHILY.xattr.user.note': e['note']}
    if e.get('data') is None: i.type = tarfile.DIRTYPE; t.addfile(i)
    else: data = e['data'].encode(); i.size = len(data); t.addfile(i, io.BytesIO(data))
t.close()`

/** Writes the archive `file` of `entries`, in order, readable by all (an unprivileged user's script reads it). */
export function writePaxArchive(file: string, entries: PaxEntry[]): void {
  execFileSync('python3', ['-c', script, file, JSON.stringify(entries)])
  fs.chmodSync(file, 0o644)
}

/** A 0500 directory and a 0444 file in it (uid 999, 1234), each with a user.note: attributes their modes leave unwritable to their owner. */
export const readOnlyWithNotes: PaxEntry[] = [
  { name: 'd', mode: 0o500, uid: 999, note: 'on d' },
  { name: 'd/f', mode: 0o444, uid: 1234, note: 'on f', data: 'f\n' },
]
