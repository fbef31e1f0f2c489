/**
 * Resource limits and accounting through cgroups (v1, v2 and hybrid hosts).
 * @module
 */
export { CgroupService, type CgroupSetup } from './service'
export { resolveResources, mergeResources, resourceOptionNames, type ResourceOptions, type Resources, type Rlimit, type Ulimit, type Ulimits } from './resources'
export type { ContainerStats } from './stats'
export type { ProcessInfo } from './top'
export type { LayoutName } from './layout'
export { devicePolicy, parseDeviceCgroupRule, type DevicePolicy, type DeviceRule, type DeviceType } from './device-rules'
