/**
 * koffi's async calls (a native function run on libuv's threadpool) share
 * one bound: koffi keeps memory for 8 of them (its resident_async_pools) and
 * maps, protects and unmaps a stack and heap for every one beyond, on the
 * event loop (3-4 syscalls each; an unmap in a threaded process also costs
 * the other CPUs a TLB flush). libuv runs 4 workers anyway, so calls queued
 * here lose no parallelism. Every `.async` call goes through {@link inAsyncSlot}:
 * shim spawns, small-file writes, data copies and pool hashes alike.
 *
 * @module
 */
import { isMainThread } from 'node:worker_threads'
import { Throttle } from './throttle'

/** koffi async calls in flight at most, process-wide. */
export const maxAsyncCalls = 8

const slots = new Throttle(maxAsyncCalls)

/** Runs `call` (one koffi `.async` call, settled by its callback) once fewer than {@link maxAsyncCalls} are in flight. */
export function inAsyncSlot<T>(call: () => Promise<T>): Promise<T> {
  return slots.run(call)
}

/**
 * Whether background work (made beside the caller's work, such as warm endpoints, and possibly still
 * under way as the thread ends) may move its waits to koffi async calls: on the main thread only. In
 * a worker_thread being terminated, such a call raises a JavaScript exception that node-addon-api
 * cannot throw in the environment being torn down: a fatal error, the whole process aborted
 * (test/container/worker-thread.test.ts saw it). There that work stays synchronous.
 */
export const backgroundAsyncCalls = isMainThread
