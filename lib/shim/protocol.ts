/**
 * The version of the spec encoding shared with the shim, and what a shim's
 * refusal means.
 *
 * Node sends the version as the spec's first token pair; a shim built from
 * other sources (a checkout pulled without rebuilding native/) refuses the
 * spec at once instead of acting on keys it may read differently.
 *
 * @module
 */
import { MiniContainerError, ShimProtocolError, StartError } from '../errors'

/**
 * The protocol this library speaks: native/spec.h's MC_PROTOCOL_VERSION
 * (test/shim/protocol.unit.test.ts checks they agree). Bump both with any
 * change to the spec's keys, their values or their meaning.
 */
export const SHIM_PROTOCOL_VERSION = 11

/** The spec's first tokens, which the shim checks before reading any other. */
export const protocolTokens: readonly string[] = ['protocol', String(SHIM_PROTOCOL_VERSION)]

/**
 * What a shim built before protocol versions says of any spec: the "protocol"
 * key is unknown to it, and its parser stops right after that pair.
 */
const predatesVersions = `spec: malformed near offset ${Buffer.byteLength(protocolTokens.join('\0') + '\0')}`

/**
 * The error for a shim's "E <step> <errno> <detail>" line: a
 * {@link ShimProtocolError} when the shim speaks another protocol (step
 * "protocol", detail "shim protocol <n>, ..."), or predates versions; else a
 * {@link StartError}.
 */
export function shimFailure(shimPath: string, step: string, errno: string, detail: string): MiniContainerError {
  const refused = step === 'protocol' && /^shim protocol (\d+),/.exec(detail)
  if (refused) return new ShimProtocolError(shimPath, Number(refused[1]), SHIM_PROTOCOL_VERSION)
  if (step === 'spec' && detail === predatesVersions) return new ShimProtocolError(shimPath, 0, SHIM_PROTOCOL_VERSION)
  return new StartError(step, errno, detail)
}
