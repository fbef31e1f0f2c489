/**
 * The keys of a compose file checked against the Compose Specification:
 * a key the spec does not have is EINVALID with its path and position; a key
 * the spec has but minicontainer does not carry out yet is EUNSUPPORTED
 * naming it (never silently dropped); `x-*` extension keys are allowed
 * wherever the spec allows them. Pure.
 *
 * @module
 */
import { InvalidArgumentError, type MiniContainerError } from '../errors'
import { UnsupportedComposeKeyError } from './errors'
import { formatPath, type KeyPath } from './key-path'
import { isTree } from './tree'

/** The keys of one kind of mapping: those honoured, and those the spec has that are not (yet). */
interface KeySet {
  supported: readonly string[]
  unsupported: readonly string[]
  /** Nested mappings with their own key sets. */
  children?: Readonly<Record<string, KeySet | { eachValue: KeySet }>>
}

const healthcheck: KeySet = { supported: ['test', 'interval', 'timeout', 'retries', 'start_period', 'start_interval', 'disable'], unsupported: [] }
const dependsOn: KeySet = { supported: ['condition', 'required', 'restart'], unsupported: [] }
const serviceNetwork: KeySet = {
  supported: ['aliases', 'ipv4_address'],
  unsupported: ['ipv6_address', 'link_local_ips', 'mac_address', 'driver_opts', 'priority', 'gw_priority', 'interface_name'],
}

const build: KeySet = {
  supported: ['context', 'dockerfile', 'args', 'target'],
  unsupported: [
    'dockerfile_inline', 'additional_contexts', 'ssh', 'cache_from', 'cache_to', 'extra_hosts', 'isolation', 'labels', 'network', 'no_cache',
    'platforms', 'privileged', 'pull', 'secrets', 'shm_size', 'tags', 'ulimits', 'entitlements', 'provenance', 'sbom',
  ],
}
const deploy: KeySet = {
  supported: ['replicas', 'resources'],
  unsupported: ['mode', 'endpoint_mode', 'labels', 'placement', 'restart_policy', 'rollback_config', 'update_config'],
  children: { resources: { supported: ['limits'], unsupported: ['reservations'], children: { limits: { supported: ['cpus', 'memory', 'pids'], unsupported: ['devices'] } } } },
}

const service: KeySet = {
  supported: [
    'image', 'command', 'entrypoint', 'environment', 'ports', 'volumes', 'networks', 'hostname', 'user', 'working_dir',
    'healthcheck', 'labels', 'depends_on', 'container_name', 'profiles', 'cap_add', 'cap_drop', 'privileged', 'read_only',
    'init', 'extra_hosts', 'tmpfs', 'stop_grace_period', 'env_file', 'build', 'scale', 'deploy', 'network_mode', 'expose',
    'mem_limit', 'cpus', 'pids_limit', 'shm_size', 'stop_signal', 'ulimits', 'security_opt', 'sysctls', 'restart',
  ],
  unsupported: [
    'annotations', 'attach', 'blkio_config', 'cgroup', 'cgroup_parent', 'configs', 'cpu_count', 'cpu_percent',
    'cpu_shares', 'cpu_quota', 'cpu_period', 'cpu_rt_period', 'cpu_rt_runtime', 'cpuset', 'credential_spec',
    'develop', 'device_cgroup_rules', 'devices', 'dns', 'dns_opt', 'dns_search', 'domainname',
    'extends', 'external_links', 'gpus', 'group_add', 'ipc', 'isolation', 'label_file', 'links', 'logging',
    'mac_address', 'mem_reservation', 'mem_swappiness', 'memswap_limit', 'models', 'oom_kill_disable', 'oom_score_adj', 'pid',
    'platform', 'post_start', 'pre_stop', 'provider', 'pull_policy', 'pull_refresh_after', 'runtime', 'secrets',
    'stdin_open', 'storage_opt', 'tty', 'use_api_socket', 'userns_mode', 'uts', 'volumes_from',
  ],
  children: { healthcheck, depends_on: { eachValue: dependsOn }, networks: { eachValue: serviceNetwork }, build, deploy },
}

const network: KeySet = {
  supported: ['internal', 'labels', 'name', 'external', 'driver'],
  unsupported: ['driver_opts', 'ipam', 'attachable', 'enable_ipv6', 'enable_ipv4'],
}
const volume: KeySet = { supported: ['labels', 'name', 'external'], unsupported: ['driver', 'driver_opts'] }

const top: KeySet = {
  supported: ['version', 'name', 'services', 'networks', 'volumes'],
  unsupported: ['configs', 'secrets', 'include', 'models'],
  children: { services: { eachValue: service }, networks: { eachValue: network }, volumes: { eachValue: volume } },
}

/** Reports a key problem at a path; the caller adds the position. */
export type KeyReporter = (path: KeyPath, error: (where: string) => MiniContainerError) => never

function checkMapping(value: unknown, keys: KeySet, path: KeyPath, report: KeyReporter): void {
  if (!isTree(value)) return // the shape is checked where the value is read
  for (const [k, v] of Object.entries(value)) {
    const at = [...path, k]
    if (k.startsWith('x-')) continue
    if (keys.unsupported.includes(k)) report(at, (where) => new UnsupportedComposeKeyError(formatPath(at), where))
    if (!keys.supported.includes(k)) {
      report(at, (where) => new InvalidArgumentError(`${where}: ${formatPath(at)}: "${k}" is not a Compose Specification key here; the keys allowed are ${keys.supported.join(', ')} (or x-* extensions)`))
    }
    const child = keys.children?.[k]
    if (!child) continue
    if ('eachValue' in child) {
      if (isTree(v)) for (const [name, entry] of Object.entries(v)) checkMapping(entry, child.eachValue, [...at, name], report)
    } else checkMapping(v, child, at, report)
  }
}

/** Checks every key of a merged compose file; `report` throws the error with its position. */
export function validateKeys(tree: unknown, report: KeyReporter): void {
  checkMapping(tree, top, [], report)
}
