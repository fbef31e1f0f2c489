/**
 * The public classes' one error rule, applied in one place: whatever goes
 * wrong inside, a caller only ever sees a `MiniContainerError` with a
 * stable code (a raw fs error becomes ESYSCALL with the original as cause).
 *
 * @module
 */
import { AbortedError, asMiniContainerError, type MiniContainerError } from '../errors'

type AnyFunction = (...args: unknown[]) => unknown

/** The AbortSignal among a call's option objects, if any. */
function signalOf(args: unknown[]): AbortSignal | undefined {
  for (const arg of args) {
    const signal = (arg as { signal?: unknown } | null | undefined)?.signal
    if (signal instanceof AbortSignal) return signal
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

function guard(fn: AnyFunction): AnyFunction {
  return function (this: unknown, ...args: unknown[]) {
    let result: unknown
    try {
      result = fn.apply(this, args)
    } catch (err) {
      throw publicError(err, fn.name, args)
    }
    return result instanceof Promise ? result.catch((err) => Promise.reject(publicError(err, fn.name, args))) : result
  }
}

function guardMembers(target: object, skip: Set<string | symbol>): void {
  for (const key of Reflect.ownKeys(target)) {
    if (skip.has(key)) continue
    const desc = Object.getOwnPropertyDescriptor(target, key)
    if (desc && typeof desc.value === 'function') Object.defineProperty(target, key, { ...desc, value: guard(desc.value) })
  }
}

/** Wraps every static and prototype method of a public class so that it throws (or rejects with) MiniContainerErrors only. */
export function guardPublicMethods(cls: { prototype: unknown }): void {
  guardMembers(cls, new Set(['length', 'name', 'prototype']))
  guardMembers(cls.prototype as object, new Set(['constructor']))
}
