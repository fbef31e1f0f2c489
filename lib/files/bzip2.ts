/**
 * A streaming bzip2 decompressor (Node has none built in), over
 * unbzip2-stream's pure-JavaScript decoder: nothing to compile, and memory
 * bounded by bzip2's block size (900 kB at most), not by the input.
 *
 * @module
 */
import { Transform } from 'node:stream'
import unbzip2Stream from 'unbzip2-stream'

/** The first bytes of a bzip2 stream ("BZh"). */
export const bzip2Magic = Buffer.from('BZh', 'latin1')

/** A Transform that decompresses a bzip2 stream (concatenated streams too). */
export function createBzip2Decompress(): Transform {
  const decoder = unbzip2Stream()
  let failed: Error | undefined
  const out = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      decoder.write(chunk)
      cb(failed)
    },
    flush(cb) {
      if (failed) return cb(failed)
      decoder.once('end', () => cb(failed))
      decoder.end()
    },
  })
  decoder.on('data', (data: Buffer) => out.push(data))
  // The decoder reports bad data by an error event, during a write or at the end.
  decoder.on('error', (err: Error) => {
    failed = new Error(`invalid bzip2 data: ${err.message}`)
    out.destroy(failed)
  })
  return out
}
