/**
 * The public API's one error rule, applied in one place (lib/index.ts, where
 * the API is exported): whatever goes wrong inside, a caller only ever sees a
 * `MiniContainerError` with a stable code (a raw fs error becomes ESYSCALL
 * with the original as cause, anything else EINTERNAL). It covers what a
 * call returns too: a rejected promise, an error a returned stream emits, an
 * async iterator's failing `next()`.
 *
 * Classes and plain objects are guarded in place (their types and `instanceof`
 * are untouched); a wrapped function keeps its name, `this` and arguments,
 * and costs one closure call (no try/catch is added inside the library's loops).
 *
 * @module
 */
import { Readable } from 'node:stream'
import { AbortedError, asMiniContainerError, type MiniContainerError } from '../errors'

type AnyFunction = (...args: never[]) => unknown

/** The AbortSignal among a call's option objects, if any; an argument that cannot be read has none. */
function signalOf(args: unknown[]): AbortSignal | undefined {
  for (const arg of args) {
    try {
      const signal = (arg as { signal?: unknown } | null | undefined)?.signal
      if (signal instanceof AbortSignal) return signal
    } catch {
      // A hostile argument (a Proxy that throws): the call's own error is what matters.
    }
  }
  return undefined
}

/**
 * The error a caller sees: a failure after the call's own signal fired is
 * EABORTED whatever threw it (Node's `signal.throwIfAborted()` throws the
 * signal's reason, which may be any value); anything else as {@link asMiniContainerError}.
 */
function publicError(err: unknown, name: string, args: unknown[]): MiniContainerError {
  if (err instanceof AbortedError) return err
  // Also over an error an inner public method already wrapped (EINTERNAL around the reason).
  const signal = signalOf(args)
  if (signal?.aborted) return new AbortedError(name, signal.reason)
  return asMiniContainerError(err)
}

type ErrorMapper = (err: unknown) => MiniContainerError

/** A stream's errors all go through `destroy(err)` (Node's errorOrDestroy too): code them there. */
function guardStream(stream: Readable, toPublic: ErrorMapper): Readable {
  const destroy = stream.destroy
  stream.destroy = function (this: Readable, err?: Error) {
    return destroy.call(this, err === undefined || err === null ? err : toPublic(err))
  }
  return stream
}

function isAsyncIterator(value: object): value is AsyncIterableIterator<unknown> {
  return typeof (value as AsyncIterator<unknown>).next === 'function' && typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function'
}

/** An async iterator whose next/return/throw reject with coded errors (own properties over the generator's). */
function guardIterator<T extends AsyncIterableIterator<unknown>>(it: T, toPublic: ErrorMapper): T {
  for (const key of ['next', 'return', 'throw'] as const) {
    const step = it[key] as AnyFunction | undefined
    if (typeof step !== 'function') continue
    Object.defineProperty(it, key, {
      configurable: true,
      writable: true,
      value: (...args: never[]) => {
        try {
          return (step.apply(it, args) as Promise<unknown>).catch((err) => Promise.reject(toPublic(err)))
        } catch (err) {
          return Promise.reject(toPublic(err))
        }
      },
    })
  }
  return it
}

/** The streams a result object carries (getArchive's `{ stream, stat }`). */
function guardStreamFields(value: unknown, toPublic: ErrorMapper): unknown {
  if (value === null || typeof value !== 'object' || Object.getPrototypeOf(value) !== Object.prototype) return value
  for (const field of Object.values(value)) if (field instanceof Readable) guardStream(field, toPublic)
  return value
}

/** What a guarded call hands back: promises, streams (also in a resolved object) and async iterators fail with coded errors too. */
function guardResult(result: unknown, toPublic: ErrorMapper): unknown {
  if (result === null || typeof result !== 'object') return result
  if (result instanceof Promise)
    return result.then(
      (value) => guardStreamFields(value, toPublic),
      (err) => Promise.reject(toPublic(err)),
    )
  if (result instanceof Readable) return guardStream(result, toPublic)
  if (isAsyncIterator(result)) return guardIterator(result, toPublic)
  return result
}

const guarded = new WeakSet<AnyFunction>()

/** `fn` behind the boundary: same name, `this` and arguments; throws, rejects and emits only MiniContainerErrors. */
export function guardFunction<T extends AnyFunction>(fn: T): T {
  if (guarded.has(fn)) return fn
  const wrapper = function (this: unknown, ...args: unknown[]): unknown {
    const toPublic: ErrorMapper = (err) => publicError(err, fn.name, args)
    let result: unknown
    try {
      result = fn.apply(this, args as never[])
    } catch (err) {
      throw toPublic(err)
    }
    return guardResult(result, toPublic)
  }
  Object.defineProperty(wrapper, 'name', { value: fn.name })
  Object.defineProperty(wrapper, 'length', { value: fn.length })
  guarded.add(wrapper)
  return wrapper as unknown as T
}

/** Guards every method, getter and setter defined on `target` itself (not inherited ones). */
function guardMembers(target: object, skip: ReadonlySet<string | symbol>): void {
  for (const key of Reflect.ownKeys(target)) {
    if (skip.has(key)) continue
    const desc = Object.getOwnPropertyDescriptor(target, key)!
    if (typeof desc.value === 'function') desc.value = guardFunction(desc.value)
    else if (desc.get || desc.set) {
      if (desc.get) desc.get = guardFunction(desc.get)
      if (desc.set) desc.set = guardFunction(desc.set)
    } else continue
    Object.defineProperty(target, key, desc)
  }
}

const classSkip = new Set<string | symbol>(['length', 'name', 'prototype'])
const prototypeSkip = new Set<string | symbol>(['constructor'])

/**
 * Puts a public class behind the boundary in place: every static and
 * prototype method, getter and setter. (A constructor cannot be swapped in
 * place without changing the class's identity; the exported constructors
 * turn their own failures into MiniContainerErrors.)
 */
export function guardClass(cls: { prototype: object }): void {
  guardMembers(cls, classSkip)
  guardMembers(cls.prototype, prototypeSkip)
}

/** Puts the methods of a plain exported object (such as `Wait`) behind the boundary in place. */
export function guardObject(obj: object): void {
  guardMembers(obj, new Set())
}
