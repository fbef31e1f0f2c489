// runShape's rule, as plain data: two runs share a shape (one may claim a container pre-started
// from the other's) when only their process and what Node does around it differ; anything the
// container is set up with makes another shape; some runs get none.
import { runShape } from '../../lib/container/run-shape'
import type { ContainerRecord } from '../../lib/container/types'

type HostConfigPart = Partial<ContainerRecord['hostConfig']>

function record(hc: HostConfigPart = {}, extra: Partial<ContainerRecord> = {}): ContainerRecord {
  return {
    id: 'a'.repeat(64), name: 'unit', image: 'img', imageId: 'sha256:' + 'b'.repeat(64), created: new Date(0).toISOString(),
    config: { cmd: ['true'], entrypoint: [], env: [], workdir: '/', user: '', hostname: 'aaaaaaaaaaaa', labels: {} },
    resources: { rlimits: [] },
    hostConfig: {
      networkMode: 'none', init: false, autoRemove: true, detach: false, privileged: false, readonlyRootfs: false, capAdd: [], capDrop: [], groupAdd: [],
      binds: [], mountOptions: [], tmpfs: {}, portBindings: [], publishAllPorts: false, links: [], networkingConfig: { aliases: [] }, securityOpt: [],
      ...hc,
    },
    ...extra,
  }
}

const base = runShape(record(), false)

test('the process, name, labels, restart policy and extra hosts are not part of the shape', () => {
  expect(base).toBeDefined()
  const other = record(
    { capAdd: ['SYS_PTRACE'], capDrop: ['CHOWN'], groupAdd: ['44'], securityOpt: ['no-new-privileges'], restartPolicy: { name: 'on-failure', maximumRetryCount: 2 }, extraHosts: ['h:10.0.0.1'], keepOnOwnerDeath: true },
    { id: 'c'.repeat(64), name: 'other', created: new Date(1).toISOString() },
  )
  other.config = { cmd: ['sh'], entrypoint: ['/x'], env: ['A=1'], workdir: '/tmp', user: '1000', hostname: 'h', labels: { a: 'b' }, stopSignal: 'SIGINT' }
  expect(runShape(other, false)).toBe(base)
})

test('the image, limits, rm, read-only root, privileged, init, log options and sysctls are', () => {
  const changed: ContainerRecord[] = [
    record({}, { imageId: 'sha256:' + 'd'.repeat(64) }),
    record({}, { resources: { rlimits: [], pidsLimit: 7 } }),
    record({ autoRemove: false }),
    record({ readonlyRootfs: true }),
    record({ privileged: true }),
    record({ init: true }),
    record({ logConfig: { type: 'json-file', maxSize: 1024, maxFiles: 2 } }),
    record({ sysctls: { 'net.ipv4.ip_forward': '1' } }),
    record({ deviceCgroupRules: ['c 1:11 w'] }),
  ]
  for (const r of changed) expect(runShape(r, false)).not.toBe(base)
})

test("a root runtime's bridge or user network is part of the shape (joined at the claim), its ports, aliases and links are not", () => {
  const bridge = runShape(record({ networkMode: 'bridge' }), false)
  expect(bridge).toBeDefined()
  expect(bridge).not.toBe(base)
  expect(runShape(record({ networkMode: 'bridge', portBindings: ['8080:80'], publishAllPorts: true, links: ['db'], networkingConfig: { aliases: ['web'] } }), false)).toBe(bridge)
  expect(runShape(record({ networkMode: 'mynet' }), false)).not.toBe(bridge)
  // Rootless, the user namespace must own the network namespace, made before the clone.
  expect(runShape(record({ networkMode: 'bridge' }), true)).toBeUndefined()
  expect(runShape(record(), true)).toBe(base)
})

test('no shape (never pre-started): detached, the host\'s or another container\'s network, a user namespace, mounts, tmpfs or devices', () => {
  for (const hc of [{ detach: true }, { networkMode: 'host' }, { networkMode: 'container:abc' }, { usernsMode: 'keep-id' as const }, { binds: ['/a:/b'] }, { tmpfs: { '/t': '' } }, { tmpfs: ['/t'] }, { devices: [{ pathOnHost: '/dev/null', pathInContainer: '/dev/x', cgroupPermissions: 'rwm' }] }])
    expect(runShape(record(hc as HostConfigPart), false)).toBeUndefined()
  expect(runShape(record({}, { mounts: [{ type: 'volume', source: 'v', target: '/v', readOnly: false } as never] }), false)).toBeUndefined()
})
