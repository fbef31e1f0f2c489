/**
 * The shim's step times (native/steps.h): the "T" line it sends with "S",
 * and the exit time in the "X" line, put into the open start trace.
 *
 * @module
 */
import { stamp, tracing } from '../util/start-trace'

/** native/steps.h's enum mc_step, in its order. */
const shimSteps = ['shim: spec read', 'shim: clone', 'child: running', 'child: cgroup joined', 'child: mounts', 'child: pivot_root', 'child: identity', 'child: seccomp installed', 'shim: exec seen', 'child: network joined'] as const

/** Stamps the steps of a "T <ns>..." line (without its "T "); a 0 is a step not taken. */
export function stampShimSteps(fields: string): void {
  if (!tracing()) return
  fields.split(' ').forEach((ns, i) => {
    if (shimSteps[i] && ns !== '0') stamp(shimSteps[i], BigInt(ns))
  })
}

/** Stamps the exit the shim saw (the "X" line's third field, absent from older shims). */
export function stampShimExit(ns: string | undefined): void {
  if (ns && tracing()) stamp('shim: exit seen', BigInt(ns))
}
