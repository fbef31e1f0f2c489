/**
 * Docker's notations for sizes and CPU amounts, turned into the numbers the
 * kernel takes.
 *
 * @module
 */
import { InvalidArgumentError } from '../errors'

const multipliers: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 }

/**
 * Bytes from a number or Docker's size string ('512m', '1g', '1.5GiB', '64k'):
 * binary multipliers, as `docker run --memory` (go-units RAMInBytes).
 */
export function parseBytes(value: number | string, option: string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new InvalidArgumentError(`${option}: ${value} is not a size in bytes`)
    return Math.floor(value)
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?\s*$/i.exec(String(value))
  if (!m) throw new InvalidArgumentError(`${option}: cannot parse "${value}" as a size; use bytes or a string like '512m' or '1g'`)
  return Math.floor(Number(m[1]) * multipliers[m[2]!.toLowerCase()]!)
}

/** The CFS period Docker uses for `--cpus` (100 ms, in microseconds). */
export const defaultCpuPeriod = 100_000

/** `--cpus` as a CFS quota for the given period (µs). */
export function cpusToQuota(cpus: number, period = defaultCpuPeriod): number {
  return Math.round(cpus * period)
}

/**
 * cgroup v1 `cpu.shares` (2..262144, default 1024) as a cgroup v2 `cpu.weight`
 * (1..10000, default 100), with the linear mapping runc uses (integer division).
 */
export function sharesToWeight(shares: number): number {
  if (shares <= 0) return 100
  return 1 + Math.floor(((Math.min(Math.max(shares, 2), 262_144) - 2) * 9999) / 262_142)
}

/**
 * CPU percentage as `docker stats` shows it: CPU time used between two samples
 * over the wall time between them (100% is one CPU busy; docker divides by
 * host CPU time from /proc/stat and multiplies by the CPU count, the same ratio).
 */
export function cpuPercent(cpuDeltaNs: number, wallDeltaNs: number): number {
  if (cpuDeltaNs <= 0 || wallDeltaNs <= 0) return 0
  return (cpuDeltaNs / wallDeltaNs) * 100
}
