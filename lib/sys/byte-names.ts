/**
 * File names are bytes, not text: Linux allows any byte but "/" and NUL,
 * and a name that is not UTF-8 (`\xff\xfe`) must come out of an archive,
 * a copy or a layer exactly as it went in. Names travel through the
 * library as strings all the same, with the bytes that are not UTF-8
 * escaped as lone surrogates U+DC80..U+DCFF (Python's "surrogateescape",
 * PEP 383): valid UTF-8 names are plain strings, path operations work on
 * them unchanged, and the bytes come back at the edges where names meet
 * the kernel or a tar header.
 *
 * @module
 */

const fatal = new TextDecoder('utf-8', { fatal: true })
/** A lone low surrogate of the escaped range (one not ending a valid pair). */
const ESCAPED = /(?<![\ud800-\udbff])[\udc80-\udcff]/
const ESCAPED_ALL = new RegExp(ESCAPED.source, 'g')

/** Length of the UTF-8 sequence a lead byte starts (0: never a lead byte). */
function sequenceLength(lead: number): number {
  if (lead < 0x80) return 1
  if (lead >= 0xc2 && lead <= 0xdf) return 2
  if (lead >= 0xe0 && lead <= 0xef) return 3
  if (lead >= 0xf0 && lead <= 0xf4) return 4
  return 0
}

/** A name's bytes as a string: UTF-8 where they are, every other byte escaped as U+DC00 + byte. */
export function decodeName(bytes: Uint8Array): string {
  try {
    return fatal.decode(bytes)
  } catch {
    let out = ''
    for (let i = 0; i < bytes.length; ) {
      const n = sequenceLength(bytes[i])
      let text: string | undefined
      try {
        text = n && i + n <= bytes.length ? fatal.decode(bytes.subarray(i, i + n)) : undefined
      } catch {
        text = undefined
      }
      out += text ?? String.fromCharCode(0xdc00 + bytes[i])
      i += text === undefined ? 1 : n
    }
    return out
  }
}

/** Whether a name holds escaped bytes (so that it is not valid UTF-8 as bytes). */
export function hasRawBytes(name: string): boolean {
  return ESCAPED.test(name)
}

/** The bytes of a name {@link decodeName} gave (any other string: its UTF-8). */
export function encodeName(name: string): Buffer {
  if (!hasRawBytes(name)) return Buffer.from(name)
  const parts: Buffer[] = []
  let from = 0
  for (const m of name.matchAll(ESCAPED_ALL)) {
    parts.push(Buffer.from(name.slice(from, m.index)), Buffer.from([m[0].charCodeAt(0) - 0xdc00]))
    from = m.index + 1
  }
  parts.push(Buffer.from(name.slice(from)))
  return Buffer.concat(parts)
}

/**
 * A name as a `const char *` argument of a native call: a string with
 * escaped bytes becomes its bytes, NUL-terminated (koffi would encode the
 * escapes as U+FFFD); anything else passes unchanged.
 */
export function cName<T>(arg: T): T | Buffer {
  return typeof arg === 'string' && hasRawBytes(arg) ? Buffer.concat([encodeName(arg), Buffer.from([0])]) : arg
}
