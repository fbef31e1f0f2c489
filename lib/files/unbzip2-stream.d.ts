/** The part of unbzip2-stream's (untyped) API the bzip2 decompressor uses: a classic through stream. */
declare module 'unbzip2-stream' {
  import type { Duplex } from 'node:stream'
  /** A stream that takes bzip2 bytes and emits the decompressed bytes. */
  export default function unbzip2Stream(): Duplex
}
