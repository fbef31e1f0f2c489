/**
 * Helpers of the rootless project's files (they run as the user: see scripts/test-rootless.js).
 */
import type { MiniContainerError } from '../../../lib'

/** Runs `body` with the environment variables changed (undefined deletes one), restoring them after. */
export async function withEnv<T>(vars: Record<string, string | undefined>, body: () => T | Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]))
  const set = (values: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(values)) if (v === undefined) delete process.env[k]
    else process.env[k] = v
  }
  set(vars)
  try {
    return await body()
  } finally {
    set(saved)
  }
}

/** The error a promise rejects with (the test fails when it resolves). */
export async function rejection(p: Promise<unknown>): Promise<MiniContainerError> {
  return p.then(
    () => {
      throw new Error('expected a rejection')
    },
    (e: MiniContainerError) => e,
  )
}
