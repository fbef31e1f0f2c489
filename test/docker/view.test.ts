/**
 * Docker's view from inside (issue 8 §4): the same probes run in a container
 * of Docker's engine (Debian docker.io, a private engine from
 * test/tools/docker-engine.ts) and in a minicontainer container of the same
 * busybox root filesystem, with the same command, and what each shows is
 * compared. Differences that remain are listed, with the reason, in
 * `expectedDifferences`; everything else must be identical.
 */
import { run, type Runtime } from '../../lib'
import { text } from '../helpers'
import { useBusyboxOnBoth, type PrivateDocker } from '../tools/docker-engine'

let engine: PrivateDocker
let runtime: Runtime

useBusyboxOnBoth('mc-view:bb', (e, r) => ((engine = e), (runtime = r)))

/** Each probe is a shell line; its output is compared between the two runtimes. */
const probes: Record<string, string> = {
  root: 'ls -1a / | sort',
  dev: 'ls -1a /dev | sort',
  etc: 'ls -1a /etc | sort',
  mtab: 'readlink /etc/mtab',
  mounts: "awk '{print $2, $3}' /proc/self/mounts | sort",
  sys: 'ls -1a /sys | sort',
  shm: "awk '$2 == \"/dev/shm\" {print $3, $4}' /proc/self/mounts",
  ulimits: 'ulimit -a',
  umask: 'umask',
  id: 'id',
  idApp: 'su app -s /bin/sh -c id 2>/dev/null || id app',
  env: 'env | grep -E "^(PATH|HOME)=" | sort',
  hostnameEnv: 'test "$HOSTNAME" = "$(hostname)" && echo same',
}

async function probeDocker(cmd: string, extra: string[] = []): Promise<string> {
  const r = await engine.run(['run', '--rm', '--network', 'none', ...extra, 'mc-view:bb', 'sh', '-c', cmd], { timeoutMs: 60000 })
  return r.stdout
}

async function probeHere(cmd: string, opts: { user?: string; groupAdd?: string[] } = {}): Promise<string> {
  const c = await run('mc-view:bb', ['sh', '-c', cmd], { runtime, network: 'none', ...opts })
  await c.wait()
  const out = await text(c.logs({ stderr: false }))
  await c.remove()
  return out
}

/**
 * What stays different, and why. Keys are probe names; the value is a
 * function that removes the accepted difference from a probe's output.
 */
const expectedDifferences: Record<string, (out: string) => string> = {
  // /.dockerenv is Docker's own marker file ("this is Docker"); minicontainer is not Docker and does not claim to be.
  root: (out) => out.split('\n').filter((l) => l !== '.dockerenv').join('\n'),
  mounts: (out) =>
    out
      .split('\n')
      // Docker 25 and later also mask /proc/interrupts, as minicontainer does; Debian 12's engine (20.10) predates it.
      .filter((l) => !l.startsWith('/proc/interrupts '))
      // The container's own cgroup hierarchy on /sys/fs/cgroup comes with cgroup limits (issue 9), and how
      // Docker shows it depends on its cgroup driver and the host's layout: compared in the cgroups tests.
      .filter((l) => !l.startsWith('/sys/fs/cgroup'))
      .join('\n'),
}

describe('a fresh container looks the same inside as under Docker', () => {
  for (const [name, cmd] of Object.entries(probes)) {
    test(name, async () => {
      const [docker, here] = await Promise.all([probeDocker(cmd), probeHere(cmd)])
      const normalise = expectedDifferences[name] ?? ((s: string) => s)
      expect(normalise(here)).toBe(normalise(docker))
    }, 90_000)
  }

  test('user and groupAdd: the same identity and supplementary groups', async () => {
    const cmd = 'id'
    expect(await probeHere(cmd, { user: 'app' })).toBe(await probeDocker(cmd, ['--user', 'app']))
    expect(await probeHere(cmd, { user: 'app', groupAdd: ['staff', '4242'] })).toBe(await probeDocker(cmd, ['--user', 'app', '--group-add', 'staff', '--group-add', '4242']))
    expect(await probeHere(cmd, { user: '1000:1000' })).toBe(await probeDocker(cmd, ['--user', '1000:1000']))
  }, 120_000)
})
