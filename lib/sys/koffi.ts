/**
 * koffi, loaded so that loading it again does not chain copies together.
 *
 * koffi's index wraps `load` and `register` of its native module object,
 * which Node keeps once per process. Another copy of koffi's JavaScript in
 * the same process (jest gives every test file its own module registry)
 * wraps the previous copy's wrappers, so each copy, and everything its
 * module scope reaches (a whole test file's context), stayed reachable from
 * the native module: a jest worker grew by megabytes per test file, until
 * it was too big to exit within jest's half second. Here the native module
 * gets the first copy's wrappers back after every load, so at most one copy
 * stays.
 *
 * @module
 */
import koffi from 'koffi'

/** The members of koffi's native module that its index replaces with wrappers. */
interface Wrapped {
  load: unknown
  register: unknown
}

/** Where the first copy's wrappers are kept: a registered symbol, the same in every module registry and vm context. */
const firstWrappers = Symbol.for('minicontainer.koffi.firstWrappers')

function unchain(native: Wrapped & { [firstWrappers]?: Wrapped }): void {
  const first = (native[firstWrappers] ??= { load: native.load, register: native.register })
  native.load = first.load
  native.register = first.register
}

// koffi's exports carry the native module itself as `default`.
unchain((koffi as unknown as { default: Wrapped }).default)

export default koffi
export type { LibraryHandle } from 'koffi'
