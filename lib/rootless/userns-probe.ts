/**
 * The user namespace probe: mc-shim probe-userns (native/probe.c) makes a
 * user namespace, maps the caller to root in it, mounts a tmpfs and an
 * overlay with userxattr there, and reports each step. A Node process
 * cannot do it in itself (a threaded process gets EINVAL from
 * unshare(CLONE_NEWUSER)), and an unshare alone proves too little: Ubuntu's
 * AppArmor lets the namespace be made and then refuses mounts in it.
 *
 * @module
 */
import * as net from 'node:net'
import { errnoName, reapEnded } from '../sys/libc'
import { spawnShimMode } from '../shim/mode-process'

/**
 * One step of the probe (native/probe.c): `userns` unshare(CLONE_NEWUSER), `idmap` the caller mapped
 * to root, `mountns` a private mount namespace, `mount` a tmpfs, `overlay` an overlay with userxattr,
 * `whiteout` a lower directory removed and made again through it.
 */
export type ProbeStep = 'userns' | 'idmap' | 'mountns' | 'mount' | 'overlay' | 'whiteout'

/** The probe's steps, in order. */
export const probeSteps: readonly ProbeStep[] = ['userns', 'idmap', 'mountns', 'mount', 'overlay', 'whiteout']

/** What the probe found: the steps that worked and, when one failed, which and with what errno. */
export interface UsernsProbe {
  /** The steps that worked, in order. */
  passed: ProbeStep[]
  /** The step that failed, when one did (the steps after it were not tried). */
  failedStep?: ProbeStep
  /** Its errno name, e.g. "EPERM" or "ENOSPC". */
  errno?: string
}

/** A probe that says nothing within this long is killed and reported as failed (it makes no blocking call). */
const probeTimeoutMs = 5000

/** Reads the probe's lines "<step> <errno>" into a result; an unknown or missing line is a failure of the next step. */
export function parseProbe(text: string): UsernsProbe {
  const result: UsernsProbe = { passed: [] }
  for (const line of text.split('\n').filter(Boolean)) {
    const [step, errno] = line.split(' ')
    if (!(probeSteps as readonly string[]).includes(step!)) continue
    if (errno === '0') result.passed.push(step as ProbeStep)
    else return { ...result, failedStep: step as ProbeStep, errno: errnoName(Number(errno)) }
  }
  const next = probeSteps[result.passed.length]
  return next ? { ...result, failedStep: next, errno: 'no answer from mc-shim probe-userns' } : result
}

/** Runs the probe in a fresh mc-shim and resolves with what it found (its namespaces end with it). */
export async function probeUserNamespace(): Promise<UsernsProbe> {
  const { pid, control } = spawnShimMode(['probe-userns'], [])
  const text = await readAll(new net.Socket({ fd: control, readable: true, writable: false }), pid)
  reapEnded(pid)
  return parseProbe(text)
}

function readAll(socket: net.Socket, pid: number): Promise<string> {
  return new Promise((resolve) => {
    let text = ''
    const timer = setTimeout(() => process.kill(pid, 'SIGKILL'), probeTimeoutMs)
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => (text += chunk))
    socket.on('error', () => {})
    socket.on('close', () => {
      clearTimeout(timer)
      resolve(text)
    })
  })
}
