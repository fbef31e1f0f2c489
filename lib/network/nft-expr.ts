/**
 * nf_tables rule expressions, encoded as netlink attributes: the small
 * virtual machine nft compiles rules into (load into a register, compare,
 * set a verdict or NAT). Only what minicontainer's rules use.
 *
 * Registers: NFT_REG_1 / NFT_REG_2 are the 16-byte data registers.
 *
 * @module
 */
import { attr, attrString, nested, strAttr, u32beAttr } from './nlattr'

const NFTA_LIST_ELEM = 1
const NFTA_EXPR_NAME = 1
const NFTA_EXPR_DATA = 2
const NFTA_DATA_VALUE = 1
const NFTA_DATA_VERDICT = 2
const NFTA_VERDICT_CODE = 1

/** First 16-byte data register. */
export const REG_1 = 1
/** Second 16-byte data register. */
export const REG_2 = 2
const REG_VERDICT = 0

/** Verdicts (NF_DROP, NF_ACCEPT). */
export const Verdict = { drop: 0, accept: 1 } as const

/** A rule expression, ready to go into NFTA_RULE_EXPRESSIONS. */
export type Expr = Buffer

function expr(name: string, data: Buffer[]): Expr {
  const body = [strAttr(NFTA_EXPR_NAME, name)]
  if (data.length) body.push(nested(NFTA_EXPR_DATA, data))
  return nested(NFTA_LIST_ELEM, body)
}

function dataValue(type: number, value: Buffer): Buffer {
  return nested(type, [attr(NFTA_DATA_VALUE, value)])
}

/** meta keys (enum nft_meta_keys). */
export const MetaKey = { iifname: 6, oifname: 7, l4proto: 16 } as const

/** Loads a packet meta value into `reg`. */
export function meta(key: number, reg = REG_1): Expr {
  return expr('meta', [u32beAttr(1 /* DREG */, reg), u32beAttr(2 /* KEY */, key)])
}

/** Header bases (enum nft_payload_bases). */
export const PayloadBase = { network: 1, transport: 2 } as const

/** Loads `len` bytes at `offset` of a header into `reg`. */
export function payload(base: number, offset: number, len: number, reg = REG_1): Expr {
  return expr('payload', [u32beAttr(1 /* DREG */, reg), u32beAttr(2 /* BASE */, base), u32beAttr(3 /* OFFSET */, offset), u32beAttr(4 /* LEN */, len)])
}

/** Comparison operators (enum nft_cmp_ops). */
export const CmpOp = { eq: 0, neq: 1 } as const

/** Compares the first `value.length` bytes of `reg`; the rule stops unless it holds. */
export function cmp(op: number, value: Buffer, reg = REG_1): Expr {
  return expr('cmp', [u32beAttr(1 /* SREG */, reg), u32beAttr(2 /* OP */, op), dataValue(3 /* DATA */, value)])
}

/** `reg = (reg & mask) ^ 0` over `mask.length` bytes (used for prefix matches). */
export function bitwiseMask(mask: Buffer, reg = REG_1): Expr {
  return expr('bitwise', [u32beAttr(1 /* SREG */, reg), u32beAttr(2 /* DREG */, reg), u32beAttr(3 /* LEN */, mask.length), dataValue(4 /* MASK */, mask), dataValue(5 /* XOR */, Buffer.alloc(mask.length))])
}

/** Puts a constant into `reg`. */
export function immediate(value: Buffer, reg: number): Expr {
  return expr('immediate', [u32beAttr(1 /* DREG */, reg), dataValue(2 /* DATA */, value)])
}

/** Ends the rule with a verdict. */
export function verdict(code: number): Expr {
  return expr('immediate', [u32beAttr(1 /* DREG */, REG_VERDICT), nested(2 /* DATA */, [nested(NFTA_DATA_VERDICT, [u32beAttr(NFTA_VERDICT_CODE, code)])])])
}

/** Loads the connection's conntrack status bits (host byte order) into `reg`. */
export function ctStatus(reg = REG_1): Expr {
  return expr('ct', [u32beAttr(1 /* DREG */, reg), u32beAttr(2 /* KEY */, 2 /* NFT_CT_STATUS */)])
}

/** IPS_DST_NAT: the connection's destination was rewritten (a published port). */
export const CT_STATUS_DNAT = 0x20

/** A u32 in host byte order, as ct and fib leave values in registers. */
export function u32host(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32LE(n >>> 0)
  return b
}

/** `fib daddr type` into `reg` (the route type of the destination: RTN_LOCAL = 2 for our own addresses). */
export function fibDaddrType(reg = REG_1): Expr {
  return expr('fib', [u32beAttr(1 /* DREG */, reg), u32beAttr(2 /* RESULT */, 3 /* ADDRTYPE */), u32beAttr(3 /* FLAGS */, 2 /* F_DADDR */)])
}

/** RTN_LOCAL in host byte order, as `fib ... type` leaves it in the register. */
export function rtnLocal(): Buffer {
  return u32host(2)
}

/** Destination NAT to the address in `addrReg` and the port in `portReg`. */
export function dnat(addrReg: number, portReg: number): Expr {
  const NFPROTO_IPV4 = 2
  return expr('nat', [u32beAttr(1 /* TYPE */, 1 /* DNAT */), u32beAttr(2 /* FAMILY */, NFPROTO_IPV4), u32beAttr(3 /* REG_ADDR_MIN */, addrReg), u32beAttr(5 /* REG_PROTO_MIN */, portReg)])
}

/** Source NAT to the outgoing interface's address. */
export function masquerade(): Expr {
  return expr('masq', [])
}

/** Counts packets and bytes (visible in `nft list`, handy when debugging). */
export function counter(): Expr {
  return expr('counter', [])
}

/** An interface name as meta loads it: NUL-padded to 16 bytes, or just the prefix for a wildcard. */
export function ifnameValue(name: string, prefixOnly = false): Buffer {
  if (prefixOnly) return Buffer.from(name)
  const b = Buffer.alloc(16)
  b.write(name)
  return b
}

/** NFTNL_UDATA_RULE_COMMENT: the rule userdata TLV that nft shows as `comment` and iptables-nft as `-m comment`. */
const UDATA_COMMENT = 0

/** A rule's userdata carrying `text` as its comment (NFTA_RULE_USERDATA). */
export function ruleComment(text: string): Buffer {
  const value = Buffer.from(`${text}\0`)
  return Buffer.concat([Buffer.from([UDATA_COMMENT, value.length]), value])
}

/** The comment in a rule's userdata, if any. */
export function parseRuleComment(udata: Buffer | undefined): string | undefined {
  let off = 0
  while (udata && off + 2 <= udata.length) {
    const [type, len] = [udata[off], udata[off + 1]]
    if (type === UDATA_COMMENT) return attrString(udata.subarray(off + 2, off + 2 + len))
    off += 2 + len
  }
  return undefined
}
