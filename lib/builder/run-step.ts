/**
 * RUN: the command runs in a throwaway container of the stage (Docker's
 * default capabilities and seccomp, the stage's env, user and workdir, no
 * entrypoint); its overlay upper dir becomes the step's layer (on a root
 * runtime the dir itself, moved into the store; else unpacked from its tar,
 * as `commit()` makes one). The container and its throwaway image are
 * removed whatever happens (in the background when the caller gives
 * `cleanups`); a failed command is EBUILD with its last 50 lines.
 *
 * @module
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { BuildError } from '../errors'
import { exitUnlessAborted } from '../container/abortable'
import { startWithExtras, type Container } from '../container/container'
import type { ContainerContext } from '../container/context'
import { layerFromUpper } from '../files'
import { removeTreeAt } from '../files/tree'
import { clampMtimes, upperAsUnpackedLayer } from '../files/upper-as-layer'
import type { NetworkMode } from '../container/types'
import type { MountOption } from '../storage/mount-types'
import type { PendingWork } from '../util/pending-work'
import { stamp } from '../util/start-trace'
import { withThrowawayContainer, type StageImage } from './throwaway-container'

/**
 * What a container adds to a root that lacks it, made in its upper dir: the
 * mount points of its /etc files and the /etc/mtab link (Docker's init layer
 * has it). No RUN layer of BuildKit or the classic builder holds them.
 */
export const containerStubs: readonly string[] = ['/etc/hostname', '/etc/hosts', '/etc/resolv.conf', '/etc/mtab']

/** What a RUN needs besides its command. */
export interface RunStepInput {
  /** The stage's files (layers, config, host binds). */
  readonly image: StageImage
  /** The command (exec form, or SHELL + the text). */
  readonly cmd: string[]
  /** ENV plus the ARGs in scope. */
  readonly env: string[]
  /** Variables for the process only, over `env`: secrets (`env=`), kept out of the throwaway container's record. */
  readonly processEnv?: string[]
  /** Called once the command runs (its mounts made). */
  readonly onStarted?: () => void
  readonly network: NetworkMode
  /** RUN's --mount mounts (and a here-document script's). */
  readonly mounts?: MountOption[]
  /** Mount targets (and {@link containerStubs}) and their parents that the image lacks, deepest first: the mount points made for them are taken out of the layer. */
  readonly addedTargets?: string[]
  /** sourceDateEpoch: later mtimes in the layer are set to this. */
  readonly clampMtimesTo?: Date
  /** Where failures point: stage name or index, line, instruction text. */
  readonly where: { stage: string; line: number; instruction: string }
  readonly onLine: (line: string) => void
  readonly signal?: AbortSignal
  /** Where the throwaway container's removal goes on in the background, when the caller waits for it later. */
  readonly cleanups?: PendingWork
}

/** Runs the step; returns the diffID of the layer it made. */
export async function runStep(rt: ContainerContext, input: RunStepInput): Promise<string> {
  // No VOLUMEs: BuildKit mounts none for RUN, so what RUN writes there stays in the layer and no mount point is added to it.
  // No HEALTHCHECK: BuildKit runs none in a RUN, and a check's writes would land in the step's layer.
  const { volumes: _volumes, healthcheck: _healthcheck, ...config } = input.image.config
  const options = { env: input.env, user: config.user || undefined, workdir: config.workdir || undefined, network: input.network, mounts: input.mounts, signal: input.signal }
  stamp('build: RUN step')
  return withThrowawayContainer(rt, { ...input.image, config }, input.cmd, options, async (container) => {
    stamp('build: container created')
    await startWithExtras(container, { processEnv: input.processEnv, lastMount: true }, input.signal)
    input.onStarted?.()
    const exit = await exitUnlessAborted(container, input.signal, 'Image.build()')
    stamp('build: exit seen')
    const output = await linesOf(container)
    stamp('build: output read')
    output.forEach(input.onLine)
    if (exit.exitCode !== 0) {
      const { stage, line, instruction } = input.where
      throw new BuildError(stage, line, instruction, exit.exitCode, output.slice(-50), `process ${JSON.stringify(input.cmd.join(' '))} did not complete successfully: exit code: ${exit.exitCode}`)
    }
    const upper = rt.containers.paths(container.id).upper
    // Rootless, a directory of the upper dir copied up from the image belongs to a subordinate id: the keeper removes there.
    const remove = (p: string) => (rt.userIds ? rt.userIds.removeTree(p) : removeTreeAt(p))
    for (const t of input.addedTargets ?? []) removeMountPoint(upper, t, remove)
    stamp('build: mount points removed')
    const diffId = await storeLayer(rt, upper, input.clampMtimesTo)
    stamp('build: layer stored')
    return diffId
  }, input.cleanups)
}

/**
 * Stores the (throwaway) upper dir as the step's layer, its mtimes clamped to `clampTo` (sourceDateEpoch)
 * so its bytes do not depend on when it ran. A root runtime's upper dir becomes the layer itself
 * (made the tree its tar unpacks to, then moved into the store): writing every file again was most
 * of a RUN's layer time. A rootless one's (files of subordinate ids), or one the tar cannot say as it
 * is, is unpacked from its tar as `commit()` does.
 */
async function storeLayer(rt: ContainerContext, upper: string, clampTo: Date | undefined): Promise<string> {
  const layers = rt.images.layers
  const size = !rt.userIds && layers.canAdopt(upper) ? upperAsUnpackedLayer(upper, clampTo) : undefined
  if (size !== undefined) return layers.adopt(upper, layerFromUpper(upper), size)
  if (clampTo) clampMtimes(upper, clampTo)
  return layers.addTar(layerFromUpper(upper, rt.userIds?.insideIds(), rt.userIds?.sourceReads()))
}

/** Removes a mount point (or a parent made for one, or the /etc/mtab link) from the upper dir when it is still as made: the image lacks it, the RUN put nothing there. */
function removeMountPoint(upper: string, p: string, remove: (path: string) => void): void {
  const abs = path.join(upper, p)
  const st = fs.lstatSync(abs, { throwIfNoEntry: false })
  if (st && (st.isDirectory() ? fs.readdirSync(abs).length === 0 : st.isSymbolicLink() ? fs.readlinkSync(abs) === '/proc/mounts' : st.size === 0)) remove(abs)
}

async function linesOf(c: Container): Promise<string[]> {
  const chunks: Buffer[] = []
  for await (const chunk of c.logs()) chunks.push(Buffer.from(chunk as Buffer))
  const text = Buffer.concat(chunks).toString('utf8')
  return text ? text.replace(/\n$/, '').split('\n') : []
}
