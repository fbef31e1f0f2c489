/**
 * Netlink attribute (TLV) encoding and decoding: the common wire format of
 * rtnetlink link info and of every nf_tables message.
 *
 * An attribute is `u16 len, u16 type, value`, padded to 4 bytes; `len`
 * covers header and value but not the padding. Nested attributes carry the
 * NLA_F_NESTED flag in `type`, which nf_tables requires.
 *
 * @module
 */

/** Flag marking an attribute whose value is itself a list of attributes. */
export const NLA_F_NESTED = 0x8000
const NLA_TYPE_MASK = 0x3fff

function pad4(n: number): number {
  return (n + 3) & ~3
}

/** One attribute with a raw value. */
export function attr(type: number, value: Buffer): Buffer {
  const out = Buffer.alloc(4 + pad4(value.length))
  out.writeUInt16LE(4 + value.length, 0)
  out.writeUInt16LE(type, 2)
  value.copy(out, 4)
  return out
}

/** A nested attribute holding `children` (already-encoded attributes). */
export function nested(type: number, children: Buffer[]): Buffer {
  return attr(type | NLA_F_NESTED, Buffer.concat(children))
}

/** A NUL-terminated string attribute. */
export function strAttr(type: number, s: string): Buffer {
  return attr(type, Buffer.from(`${s}\0`))
}

/** A big-endian u32 attribute (nf_tables integers are network order). */
export function u32beAttr(type: number, n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n >>> 0)
  return attr(type, b)
}

/** A host-order (little-endian here) u32 attribute (rtnetlink integers). */
export function u32Attr(type: number, n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32LE(n >>> 0)
  return attr(type, b)
}

/** A big-endian u64 attribute. */
export function u64beAttr(type: number, n: bigint): Buffer {
  const b = Buffer.alloc(8)
  b.writeBigUInt64BE(n)
  return attr(type, b)
}

/** Decodes a flat attribute list into type -> value (last wins; nested flag stripped). */
export function parseAttrs(buf: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>()
  let off = 0
  while (off + 4 <= buf.length) {
    const len = buf.readUInt16LE(off)
    if (len < 4 || off + len > buf.length) break
    out.set(buf.readUInt16LE(off + 2) & NLA_TYPE_MASK, buf.subarray(off + 4, off + len))
    off += pad4(len)
  }
  return out
}

/** Reads a NUL-terminated string attribute value. */
export function attrString(value: Buffer | undefined): string | undefined {
  if (!value) return undefined
  const nul = value.indexOf(0)
  return value.subarray(0, nul < 0 ? value.length : nul).toString()
}
