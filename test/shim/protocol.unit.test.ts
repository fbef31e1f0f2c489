/**
 * The library's and the shim's halves of the spec protocol kept in step
 * (issue 18 point 3), from the sources alone: one version number, the same
 * keys, the same mount flags, and what a shim's refusal becomes.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { ShimProtocolError, StartError } from '../../lib/errors'
import { SHIM_PROTOCOL_VERSION, shimFailure } from '../../lib/shim/protocol'
import { encodeExecSpec, encodeRunSpec, MountExtra, mountFallbacks } from '../../lib/shim/spec'
import { fullExecSpec, fullRunSpec } from './full-spec'

const native = (file: string) => fs.readFileSync(path.resolve(__dirname, '../../native', file), 'utf8')

/** The tokens of an encoded spec (after its length). */
function tokens(spec: Buffer): string[] {
  return spec.subarray(4).toString('utf8').split('\0').slice(0, -1)
}

function fullSpecTokens(): Set<string> {
  mountFallbacks.force = true
  try {
    const specs = [encodeRunSpec(fullRunSpec({ stdout: '/o', stderr: '/e' })), encodeRunSpec(fullRunSpec({ log: { path: '/l', maxSize: 1, maxFiles: 2 } })), encodeExecSpec(fullExecSpec)]
    return new Set(specs.flatMap(tokens))
  } finally {
    mountFallbacks.force = false
  }
}

test("native/spec.h's MC_PROTOCOL_VERSION is the library's SHIM_PROTOCOL_VERSION", () => {
  const defined = /#define MC_PROTOCOL_VERSION (\d+)\n/.exec(native('spec.h'))
  expect(defined).not.toBeNull()
  expect(Number(defined![1])).toBe(SHIM_PROTOCOL_VERSION)
})

test('every spec leads with the protocol version', () => {
  expect(tokens(encodeExecSpec(fullExecSpec)).slice(0, 2)).toEqual(['protocol', String(SHIM_PROTOCOL_VERSION)])
})

test('every key native/spec.c decodes is sent by the library for a spec with every field set', () => {
  const keys = [...native('spec.c').matchAll(/strcmp\(key, "([a-z]+)"\)/g)].map((m) => m[1])
  expect(keys.length).toBeGreaterThan(40)
  const sent = fullSpecTokens()
  expect(keys.filter((k) => !sent.has(k))).toEqual([])
})

test("native/spec.h's extra mount flags are MountExtra's", () => {
  const enumBody = /enum \{([^}]*MC_SRC_IN_ROOT[^}]*)\}/.exec(native('spec.h'))![1]
  const flags = Object.fromEntries([...enumBody.matchAll(/(MC_\w+) = (\d+)/g)].map((m) => [m[1], Number(m[2])]))
  expect(flags).toEqual({ MC_SRC_IN_ROOT: MountExtra.SourceInRoot, MC_OPTIONAL: MountExtra.Optional, MC_FILE: MountExtra.File, MC_READONLY: MountExtra.ReadOnly })
})

describe("a shim's failure report", () => {
  const shim = '/opt/mc/native/build/mc-shim'

  test('of another protocol version is a ShimProtocolError (ENATIVE) naming both versions and the fix', () => {
    const err = shimFailure(shim, 'protocol', 'EPROTO', `shim protocol 7, spec protocol ${SHIM_PROTOCOL_VERSION}`)
    expect(err).toBeInstanceOf(ShimProtocolError)
    expect(err).toMatchObject({ code: 'ENATIVE', shimPath: shim, shimVersion: 7, libraryVersion: SHIM_PROTOCOL_VERSION })
    expect(err.message).toBe(
      `the container shim ${shim} speaks protocol 7, this library protocol ${SHIM_PROTOCOL_VERSION}: it was built from other sources; ` +
        'rebuild it with `npm rebuild minicontainer` (in a git checkout: `node native/build.js`)',
    )
  })

  test('of a shim older than protocol versions (the "protocol" key unknown to it) is a ShimProtocolError of version 0', () => {
    const offset = `protocol\0${SHIM_PROTOCOL_VERSION}\0`.length
    const err = shimFailure(shim, 'spec', 'EINVAL', `spec: malformed near offset ${offset}`)
    expect(err).toMatchObject({ code: 'ENATIVE', shimVersion: 0 })
    expect(err.message).toContain('speaks protocol 0 (it predates protocol versions)')
  })

  test('of any other step stays a StartError', () => {
    expect(shimFailure(shim, 'spec', 'EINVAL', 'spec: malformed near offset 40')).toBeInstanceOf(StartError)
    expect(shimFailure(shim, 'exec', 'ENOENT', '/bin/nope')).toMatchObject({ code: 'ESTART', step: 'exec', errno: 'ENOENT' })
  })
})
