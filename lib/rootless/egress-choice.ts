/**
 * Which egress helper a rootless runtime tries first. pasta is preferred
 * (faster, no MTU games), except Debian 12's build (passt
 * 0.0~git20230309, whose `--version` names no release): it loses
 * simultaneous TCP closes (both ends' FINs crossing), re-sending the peer's
 * bytes as new data every ~2 s and never passing its FIN on, so the
 * container's side waits in FIN-WAIT-2 forever (seen in 6 of 15 runs of the
 * rootless egress test under load, commit fb87411). With that pasta,
 * slirp4netns goes first when it is installed, and pasta stays the
 * fallback.
 *
 * @module
 */
import { execFile } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

/** The helpers minicontainer may run for egress. */
export type EgressHelper = 'pasta' | 'slirp4netns'

/** The last pasta release known to lose simultaneous closes: Debian 12's snapshot is of this day. */
const lastLossyPastaDate = 20230309

/** How long `pasta --version` may take at most (it prints and exits at once; a stuck one is killed). */
const versionTimeoutMs = 1000

/** The helpers found and the order to try them in. */
export interface EgressChoice {
  /** Installed helpers, in the order they are tried. */
  order: EgressHelper[]
  /** Where each installed helper is. */
  paths: Partial<Record<EgressHelper, string>>
  /** When pasta was put after slirp4netns, or is the only helper and loses closes: why, with its version line. */
  pastaProblem?: string
}

/** Where each of `helpers` is in `dirs` (one not found is left out). */
export function findHelpers(helpers: readonly EgressHelper[], dirs: string[]): Partial<Record<EgressHelper, string>> {
  const paths: Partial<Record<EgressHelper, string>> = {}
  for (const helper of helpers) {
    const file = findExecutable(helper, dirs)
    if (file) paths[helper] = file
  }
  return paths
}

/** The helper's executable in `dirs`, or undefined. */
function findExecutable(name: EgressHelper, dirs: string[]): string | undefined {
  for (const dir of dirs) {
    const file = path.join(dir, name)
    try {
      fs.accessSync(file, fs.constants.X_OK)
      if (fs.statSync(file).isFile()) return file
    } catch {
      /* not here */
    }
  }
  return undefined
}

/** The directories searched by default: $PATH, then /usr/bin and /usr/sbin. */
export function defaultSearchPath(): string[] {
  return [...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/bin', '/usr/sbin']
}

/**
 * Whether the first line of `pasta --version` is a build that loses simultaneous TCP closes: one
 * that names no release ("pasta unknown version", Debian 12's), or a release dated up to Debian 12's
 * snapshot ("pasta 2023_03_09.7c7625d", "0.0~git20230309").
 */
export function pastaLosesSimultaneousCloses(versionLine: string): boolean {
  if (/unknown version/.test(versionLine)) return true
  const dated = /(20\d\d)_?(\d\d)_?(\d\d)/.exec(versionLine)
  return dated !== null && Number(dated.slice(1).join('')) <= lastLossyPastaDate
}

const versionLines = new Map<string, Promise<string>>()

/** The first line `<file> --version` prints, once per process and path ("" when it fails or takes over `timeoutMs`). */
function versionLine(file: string, timeoutMs: number): Promise<string> {
  let line = versionLines.get(file)
  if (!line) {
    const options = { timeout: Math.min(timeoutMs, versionTimeoutMs), killSignal: 'SIGKILL' as const }
    line = new Promise((resolve) => execFile(file, ['--version'], options, (err, stdout) => resolve(err ? '' : stdout.split('\n')[0]!.trim())))
    versionLines.set(file, line)
  }
  return line
}

/**
 * Finds the helpers in `dirs` and orders them: pasta first, unless it is a build that loses
 * simultaneous closes and slirp4netns is there. Asking pasta its version takes at most `timeoutMs`
 * (and 1 s), once per process.
 */
export async function chooseEgressHelpers(dirs: string[] = defaultSearchPath(), timeoutMs = versionTimeoutMs): Promise<EgressChoice> {
  const paths = findHelpers(['pasta', 'slirp4netns'], dirs)
  const order = (['pasta', 'slirp4netns'] as const).filter((h) => paths[h])
  if (!paths.pasta) return { order, paths }
  const line = await versionLine(paths.pasta, timeoutMs)
  if (!pastaLosesSimultaneousCloses(line)) return { order, paths }
  const pastaProblem = `${paths.pasta} ("${line || 'no version'}": Debian 12's build, or as old) loses simultaneous TCP closes, which can hang a connection both ends close at once`
  return { order: paths.slirp4netns ? ['slirp4netns', 'pasta'] : ['pasta'], paths, pastaProblem }
}
