/**
 * What the network layer persists, as JSON under `<runtimeRoot>/networks/`:
 *
 *   <id>.json                  one per network
 *   endpoints/<container>.json a container's attachments, published ports and hosts-file path
 *   attachments/<container>.json networks joined with `Network.connect`: they outlive a stop, as in
 *                              Docker, and are joined again at the next start
 *
 * The kernel objects (bridges, veths, rules) are rebuilt from or checked
 * against these records, so a crashed process leaves enough behind for the
 * next one to clean up.
 *
 * @module
 */
import * as fs from 'node:fs'
import { isIPv6 } from 'node:net'
import * as path from 'node:path'
import { readJson, writeJson } from '../util/json-file'
import type { ProcessIdentity } from '../util/process-identity'
import type { Proto } from './ports'
import type { LinkEntry, NetworkBase } from './types'

/** A network as stored. */
export interface NetworkRecord extends NetworkBase {
  /** The default `bridge` network (no name resolution, cannot be removed by users). */
  isDefault: boolean
  /** The process that created it; absent in records made before creators were recorded. */
  creator?: ProcessIdentity
}

/** One attachment of a container to a network. */
export interface EndpointRecord {
  networkId: string
  /** Interface name inside the container (eth0, eth1...). */
  ifname: string
  /** Host-side veth name. */
  hostVeth: string
  ipAddress: string
  macAddress: string
  aliases: string[]
}

/** A published port as installed. */
export interface PortBinding {
  proto: Proto
  /** "" = every host address. */
  hostIp: string
  hostPort: number
  containerPort: number
  containerIp: string
  /**
   * Every host address only: whether `::` is bound beside 0.0.0.0 (the host had IPv6 when it was
   * published). Absent in records made before it was kept: the host's IPv6 now answers for them.
   */
  ipv6?: boolean
}

/** Whether the binding listens on an IPv6 host address: its own, or `::` beside 0.0.0.0. */
export function bindsIpv6(b: PortBinding, hostHasIpv6: () => boolean): boolean {
  return b.hostIp === '' ? (b.ipv6 ?? hostHasIpv6()) : isIPv6(b.hostIp)
}

/** Everything the network layer knows about one container. */
export interface ContainerNetRecord {
  containerId: string
  name: string
  hostname: string
  hostsFile?: string
  links: LinkEntry[]
  /** Names that resolve to the primary network's gateway (`--add-host name:host-gateway`). */
  hostGatewayNames?: string[]
  endpoints: EndpointRecord[]
  ports: PortBinding[]
  /**
   * Saved while its ports are being published: rules may exist that {@link ports} does not list yet
   * (a crash in between). A release removes the rules of a container listing ports or marked so only.
   */
  publishing?: boolean
}

/** A network joined with `Network.connect`, remembered across restarts. */
export interface AttachmentRecord {
  networkId: string
  /** The static address asked for, if any. */
  ip?: string
  aliases: string[]
}

/** Reads and writes the records of one runtime root. */
export class NetworkStore {
  readonly dir: string
  private readonly endpointDir: string
  private readonly attachmentDir: string

  /** @param root - the runtime root directory. */
  constructor(root: string) {
    this.dir = path.join(root, 'networks')
    this.endpointDir = path.join(this.dir, 'endpoints')
    this.attachmentDir = path.join(this.dir, 'attachments')
    fs.mkdirSync(this.endpointDir, { recursive: true })
    fs.mkdirSync(this.attachmentDir, { recursive: true })
  }

  /** All networks. */
  networks(): NetworkRecord[] {
    return fs
      .readdirSync(this.dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => readJson<NetworkRecord>(path.join(this.dir, f)))
      .filter((r): r is NetworkRecord => !!r)
  }

  /** The file holding a network's record (it names the network in host-wide claims). */
  recordFile(id: string): string {
    return path.join(this.dir, `${id}.json`)
  }

  /** Saves a network. */
  saveNetwork(r: NetworkRecord): void {
    writeJson(this.recordFile(r.id), r)
  }

  /** Deletes a network record. */
  deleteNetwork(id: string): void {
    fs.rmSync(path.join(this.dir, `${id}.json`), { force: true })
  }

  /** All containers with network state. */
  containers(): ContainerNetRecord[] {
    return fs
      .readdirSync(this.endpointDir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => readJson<ContainerNetRecord>(path.join(this.endpointDir, f)))
      .filter((r): r is ContainerNetRecord => !!r)
  }

  /** One container's state. */
  container(id: string): ContainerNetRecord | undefined {
    return readJson<ContainerNetRecord>(path.join(this.endpointDir, `${id}.json`))
  }

  /** Milliseconds since a container's state was last saved, or undefined when there is none. */
  containerAge(id: string): number | undefined {
    const st = fs.statSync(path.join(this.endpointDir, `${id}.json`), { throwIfNoEntry: false })
    return st && Date.now() - st.mtimeMs
  }

  /** Saves a container's state. */
  saveContainer(r: ContainerNetRecord): void {
    writeJson(path.join(this.endpointDir, `${r.containerId}.json`), r)
  }

  /** Forgets a container. */
  deleteContainer(id: string): void {
    fs.rmSync(path.join(this.endpointDir, `${id}.json`), { force: true })
  }

  /** The networks a container joined with `Network.connect` (empty when none). */
  attachments(containerId: string): AttachmentRecord[] {
    return readJson<AttachmentRecord[]>(path.join(this.attachmentDir, `${containerId}.json`)) ?? []
  }

  /** Saves them; an empty list deletes the file. */
  saveAttachments(containerId: string, list: AttachmentRecord[]): void {
    const file = path.join(this.attachmentDir, `${containerId}.json`)
    if (list.length) writeJson(file, list)
    else fs.rmSync(file, { force: true })
  }

  /** Containers with remembered attachments. */
  attachmentOwners(): string[] {
    return fs.readdirSync(this.attachmentDir).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -'.json'.length))
  }
}
