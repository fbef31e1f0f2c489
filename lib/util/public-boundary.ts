/**
 * The public classes' one error rule, applied in one place: whatever goes
 * wrong inside, a caller only ever sees a `MiniContainerError` with a
 * stable code (a raw fs error becomes ESYSCALL with the original as cause).
 *
 * @module
 */
import { asMiniContainerError } from '../errors'

type AnyFunction = (...args: unknown[]) => unknown

function guard(fn: AnyFunction): AnyFunction {
  return function (this: unknown, ...args: unknown[]) {
    let result: unknown
    try {
      result = fn.apply(this, args)
    } catch (err) {
      throw asMiniContainerError(err)
    }
    return result instanceof Promise ? result.catch((err) => Promise.reject(asMiniContainerError(err))) : result
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
