/**
 * How byte progress is reported by pulls and loads: coalesced to one event
 * per {@link PROGRESS_STEP} bytes and one at the end, never one per chunk
 * (a callback per 64 KiB chunk would cost more than the copy).
 *
 * @module
 */

/** Progress events are coalesced to one per this many bytes. */
export const PROGRESS_STEP = 512 << 10

/** A byte counter's callback that passes `bytes` on to `report` every {@link PROGRESS_STEP} bytes and when `total` is reached. */
export function coalescedProgress(total: number, report: (bytes: number) => void): (bytes: number) => void {
  let reported = 0
  return (bytes) => {
    if (bytes - reported < PROGRESS_STEP && bytes < total) return
    reported = bytes
    report(bytes)
  }
}

/** `chunks` passed through, calling `onBytes` with the running byte count after each. */
export async function* countedChunks(chunks: AsyncIterable<Buffer>, onBytes: (bytes: number) => void): AsyncGenerator<Buffer> {
  let bytes = 0
  for await (const chunk of chunks) {
    bytes += chunk.length
    onBytes(bytes)
    yield chunk
  }
}
