/**
 * What a RUN executes, as BuildKit builds it: the exec form as written; the
 * shell form through SHELL; a RUN that is one here-document alone runs its
 * text through the shell, or, when the text starts with `#!`, as a script
 * file at /dev/pipes/<delimiter> (kept out of the layer: /dev is the
 * container's own tmpfs); any other RUN with here-documents gets them
 * written back after its line, for the shell to read.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import type { MountOption } from '../storage/mount-types'
import { isHeredocMarker, type Heredoc, type Instruction } from './dockerfile'
import { commandOf } from './stage-state'

/** The command, and the here-document to mount as a script when it runs as one. */
export interface RunCommand {
  readonly cmd: string[]
  readonly script?: Heredoc
}

/** The command of a RUN with its here-documents. */
export function runCommandOf(ins: Instruction, shell: string[]): RunCommand {
  const docs = ins.heredocs ?? []
  if (!docs.length) return { cmd: commandOf(ins, shell) }
  if (isHeredocMarker(ins.rest)) {
    const doc = docs[0]
    return doc.data.startsWith('#!') ? { cmd: [`/dev/pipes/${doc.name}`], script: doc } : { cmd: [...shell, doc.data] }
  }
  return { cmd: [...shell, ins.rest + docs.map((d) => `\n${d.data}${d.name}`).join('')] }
}

/** Runs `fn` with the script's mount (none without a script): a 0755 file bound read-only at /dev/pipes/<name>. */
export async function withScriptMount<T>(script: Heredoc | undefined, fn: (mounts: MountOption[]) => Promise<T>): Promise<T> {
  if (!script) return fn([])
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-heredoc-'))
  try {
    const file = path.join(dir, 'script')
    fs.writeFileSync(file, script.data, { mode: 0o755 })
    return await fn([{ type: 'bind', source: file, target: `/dev/pipes/${script.name}`, readOnly: true }])
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
