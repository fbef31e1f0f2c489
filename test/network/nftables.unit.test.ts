// minicontainer's nf_tables messages, without a kernel: the commands the Firewall sends are
// recorded, and their rule expressions are printed the way libnftnl prints them
// (`nft --debug=netlink`), by a decoder written here from the kernel's uapi
// (include/uapi/linux/netfilter/nf_tables.h), not from the encoders. The expected lines are what
// nft 1.0.6 prints for the same rules (`nft --debug=netlink` in a private network namespace),
// except where noted: nft shortens an aligned prefix match to a shorter load, and its dnat carries
// flags 0x2 (NF_NAT_RANGE_PROTO_SPECIFIED), which the kernel sets itself when proto_min is given.
import { NftMsg, batchDatagram, type NfNetlink, type NftCommand } from '../../lib/network/nfnetlink'
import { Firewall, type PortRule } from '../../lib/network/nftables'
import { parseRuleComment, ruleComment } from '../../lib/network/nft-expr'
import { parseIp } from '../../lib/network/ipam'

/** Every attribute of a buffer in order (repeats kept), nested flag stripped. */
function tlvs(buf: Buffer): [type: number, value: Buffer][] {
  const out: [number, Buffer][] = []
  for (let off = 0; off + 4 <= buf.length; ) {
    const len = buf.readUInt16LE(off)
    out.push([buf.readUInt16LE(off + 2) & 0x3fff, buf.subarray(off + 4, off + len)])
    off += (len + 3) & ~3
  }
  return out
}
const byType = (buf: Buffer) => new Map(tlvs(buf))
const u32 = (b: Buffer | undefined) => b!.readUInt32BE(0)
const str = (b: Buffer | undefined) => b!.subarray(0, b!.indexOf(0)).toString()
/** libnftnl's data: 4-byte words read in host order, a short tail zero-padded. */
function words(b: Buffer): string {
  const padded = Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)])
  const out: string[] = []
  for (let i = 0; i < padded.length; i += 4) out.push(`0x${padded.readUInt32LE(i).toString(16).padStart(8, '0')}`)
  return out.join(' ')
}
/** NFTA_DATA_VALUE inside a nested NFTA_*_DATA. */
const dataValue = (b: Buffer | undefined) => byType(b!).get(1 /* NFTA_DATA_VALUE */)!

const metaKeys: Record<number, string> = { 6: 'iifname', 7: 'oifname', 16: 'l4proto' }
const bases: Record<number, string> = { 0: 'link', 1: 'network', 2: 'transport' }
const cmpOps: Record<number, string> = { 0: 'eq', 1: 'neq' }
const verdicts: Record<number, string> = { 0: 'drop', 1: 'accept' }

/** One expression (NFTA_LIST_ELEM) as libnftnl prints it. */
function render(elem: Buffer): string {
  const e = byType(elem)
  const name = str(e.get(1 /* NFTA_EXPR_NAME */))
  const a = e.has(2) ? byType(e.get(2 /* NFTA_EXPR_DATA */)!) : new Map<number, Buffer>()
  switch (name) {
    case 'meta': // NFTA_META_DREG 1, KEY 2
      return `[ meta load ${metaKeys[u32(a.get(2))]} => reg ${u32(a.get(1))} ]`
    case 'payload': // DREG 1, BASE 2, OFFSET 3, LEN 4
      return `[ payload load ${u32(a.get(4))}b @ ${bases[u32(a.get(2))]} header + ${u32(a.get(3))} => reg ${u32(a.get(1))} ]`
    case 'cmp': // SREG 1, OP 2, DATA 3
      return `[ cmp ${cmpOps[u32(a.get(2))]} reg ${u32(a.get(1))} ${words(dataValue(a.get(3)))} ]`
    case 'bitwise': // SREG 1, DREG 2, LEN 3, MASK 4, XOR 5
      expect(dataValue(a.get(4)).length).toBe(u32(a.get(3)))
      return `[ bitwise reg ${u32(a.get(2))} = ( reg ${u32(a.get(1))} & ${words(dataValue(a.get(4)))} ) ^ ${words(dataValue(a.get(5)))} ]`
    case 'immediate': { // DREG 1, DATA 2 (a value, or NFTA_DATA_VERDICT 2 { NFTA_VERDICT_CODE 1 })
      const data = byType(a.get(2)!)
      if (data.has(2)) return `[ immediate reg ${u32(a.get(1))} ${verdicts[u32(byType(data.get(2)!).get(1))]} ]`
      return `[ immediate reg ${u32(a.get(1))} ${words(data.get(1)!)} ]`
    }
    case 'ct': // DREG 1, KEY 2 (NFT_CT_STATUS 2)
      expect(u32(a.get(2))).toBe(2)
      return `[ ct load status => reg ${u32(a.get(1))} ]`
    case 'fib': // DREG 1, RESULT 2 (NFT_FIB_RESULT_ADDRTYPE 3), FLAGS 3 (NFTA_FIB_F_DADDR 2)
      expect([u32(a.get(2)), u32(a.get(3))]).toEqual([3, 2])
      return `[ fib daddr type => reg ${u32(a.get(1))} ]`
    case 'nat': // TYPE 1 (NFT_NAT_DNAT 1), FAMILY 2 (NFPROTO_IPV4 2), REG_ADDR_MIN 3, REG_PROTO_MIN 5
      expect([u32(a.get(1)), u32(a.get(2))]).toEqual([1, 2])
      return `[ nat dnat ip addr_min reg ${u32(a.get(3))} proto_min reg ${u32(a.get(5))} ]`
    case 'counter':
      return '[ counter pkts 0 bytes 0 ]'
    case 'masq':
      return '[ masq ]'
  }
  throw new Error(`unexpected expression ${name}`)
}

interface Recorded {
  op: string
  family: number
  commands: NftCommand[]
}

/** A Firewall whose netlink socket records batches and answers rule dumps with `rules`. */
function recordingFirewall(rules: Map<number, Buffer>[] = []) {
  const batches: Recorded[] = []
  const dumps: { msg: number; attrs: Buffer[] }[] = []
  const nl = {
    batch: async (op: string, commands: NftCommand[], family = 2) => void batches.push({ op, family, commands }),
    dump: async (msg: number, attrs: Buffer[]) => (dumps.push({ msg, attrs }), rules),
    close: () => {},
  } as unknown as NfNetlink
  return { fw: new Firewall('minicontainer_t1', 'mcbr', 'owner-mark', nl), batches, dumps }
}

/** A NEWRULE command as chain, owner and libnftnl's lines. */
function ruleOf(c: NftCommand) {
  const a = new Map(c.attrs.flatMap((b) => tlvs(b)))
  return {
    table: str(a.get(1)), chain: str(a.get(2)), owner: parseRuleComment(a.get(7 /* NFTA_RULE_USERDATA */)),
    lines: tlvs(a.get(4 /* NFTA_RULE_EXPRESSIONS */)!).map(([type, elem]) => (expect(type).toBe(1), render(elem))),
  }
}

const NLM_F_CREATE = 0x400
const NLM_F_APPEND = 0x800
const network = { id: 'n1', bridge: 'mcbr0', subnet: { network: parseIp('10.88.0.0'), prefix: 16 }, internal: false }

describe('the table and its base chains', () => {
  test('NEWTABLE with the owner mark, then the five base chains with their hooks, priorities, types and policy accept', async () => {
    const { fw, batches } = recordingFirewall()
    await fw.addNetwork(network)
    const [table, ...rest] = batches[0].commands
    expect(table.msg).toBe(NftMsg.NEWTABLE)
    expect(table.flags).toBe(NLM_F_CREATE) // not EXCL: the table may exist already
    const t = new Map(table.attrs.flatMap((b) => tlvs(b)))
    expect(str(t.get(1 /* NFTA_TABLE_NAME */))).toBe('minicontainer_t1')
    expect(parseRuleComment(t.get(6 /* NFTA_TABLE_USERDATA */))).toBe('owner-mark')
    const chains = rest.filter((c) => c.msg === NftMsg.NEWCHAIN).map((c) => {
      const a = new Map(c.attrs.flatMap((b) => tlvs(b)))
      const hook = byType(a.get(4 /* NFTA_CHAIN_HOOK */)!)
      // NFTA_HOOK_HOOKNUM 1 (NF_INET_PRE_ROUTING 0, LOCAL_IN 1, FORWARD 2, LOCAL_OUT 3, POST_ROUTING 4), NFTA_HOOK_PRIORITY 2 (signed).
      return [str(a.get(1)), str(a.get(3)), str(a.get(7)), u32(hook.get(1)), hook.get(2)!.readInt32BE(0), u32(a.get(5)), c.flags]
    })
    expect(chains).toEqual([
      ['minicontainer_t1', 'prerouting', 'nat', 0, -100, 1, NLM_F_CREATE],
      ['minicontainer_t1', 'output', 'nat', 3, -100, 1, NLM_F_CREATE],
      ['minicontainer_t1', 'postrouting', 'nat', 4, 100, 1, NLM_F_CREATE],
      ['minicontainer_t1', 'forward', 'filter', 2, 0, 1, NLM_F_CREATE],
      ['minicontainer_t1', 'input', 'filter', 1, 0, 1, NLM_F_CREATE],
    ])
  })
})

describe("a network's rules", () => {
  test('loopback hairpin, container hairpin, isolation from our other bridges, outbound masquerade; each appended and owned by net:<id>', async () => {
    const { fw, batches } = recordingFirewall()
    await fw.addNetwork(network)
    expect(batches).toHaveLength(1) // one atomic batch
    const rules = batches[0].commands.filter((c) => c.msg === NftMsg.NEWRULE)
    for (const r of rules) expect(r.flags).toBe(NLM_F_CREATE | NLM_F_APPEND)
    expect(rules.map(ruleOf)).toEqual([
      { table: 'minicontainer_t1', chain: 'postrouting', owner: 'net:n1', lines: [
        // ip saddr 127.0.0.0/8 (nft: payload load 1b + cmp 0x0000007f)
        '[ payload load 4b @ network header + 12 => reg 1 ]',
        '[ bitwise reg 1 = ( reg 1 & 0x000000ff ) ^ 0x00000000 ]',
        '[ cmp eq reg 1 0x0000007f ]',
        '[ meta load oifname => reg 1 ]',
        '[ cmp eq reg 1 0x7262636d 0x00000030 0x00000000 0x00000000 ]',
        '[ counter pkts 0 bytes 0 ]',
        '[ masq ]',
      ] },
      { table: 'minicontainer_t1', chain: 'postrouting', owner: 'net:n1', lines: [
        // ip saddr 10.88.0.0/16 oifname "mcbr0" ct status dnat counter masquerade
        '[ payload load 4b @ network header + 12 => reg 1 ]',
        '[ bitwise reg 1 = ( reg 1 & 0x0000ffff ) ^ 0x00000000 ]',
        '[ cmp eq reg 1 0x0000580a ]',
        '[ meta load oifname => reg 1 ]',
        '[ cmp eq reg 1 0x7262636d 0x00000030 0x00000000 0x00000000 ]',
        '[ ct load status => reg 1 ]',
        '[ bitwise reg 1 = ( reg 1 & 0x00000020 ) ^ 0x00000000 ]',
        '[ cmp neq reg 1 0x00000000 ]',
        '[ counter pkts 0 bytes 0 ]',
        '[ masq ]',
      ] },
      { table: 'minicontainer_t1', chain: 'forward', owner: 'net:n1', lines: [
        // iifname "mcbr0" oifname "mcbr*" oifname != "mcbr0" counter drop (as nft prints it)
        '[ meta load iifname => reg 1 ]',
        '[ cmp eq reg 1 0x7262636d 0x00000030 0x00000000 0x00000000 ]',
        '[ meta load oifname => reg 1 ]',
        '[ cmp eq reg 1 0x7262636d ]',
        '[ meta load oifname => reg 1 ]',
        '[ cmp neq reg 1 0x7262636d 0x00000030 0x00000000 0x00000000 ]',
        '[ counter pkts 0 bytes 0 ]',
        '[ immediate reg 0 drop ]',
      ] },
      { table: 'minicontainer_t1', chain: 'postrouting', owner: 'net:n1', lines: [
        // ip saddr 10.88.0.0/16 oifname != "mcbr0" counter masquerade
        '[ payload load 4b @ network header + 12 => reg 1 ]',
        '[ bitwise reg 1 = ( reg 1 & 0x0000ffff ) ^ 0x00000000 ]',
        '[ cmp eq reg 1 0x0000580a ]',
        '[ meta load oifname => reg 1 ]',
        '[ cmp neq reg 1 0x7262636d 0x00000030 0x00000000 0x00000000 ]',
        '[ counter pkts 0 bytes 0 ]',
        '[ masq ]',
      ] },
    ])
  })

  test('an internal network: no masquerade out, and drops in both directions between its bridge and anything else', async () => {
    const { fw, batches } = recordingFirewall()
    await fw.addNetwork({ ...network, internal: true })
    const rules = batches[0].commands.filter((c) => c.msg === NftMsg.NEWRULE).map(ruleOf)
    const masqOut = rules.filter((r) => r.lines.includes('[ masq ]') && r.lines.includes('[ cmp neq reg 1 0x7262636d 0x00000030 0x00000000 0x00000000 ]'))
    expect(masqOut).toEqual([])
    const drops = rules.filter((r) => r.chain === 'forward').map((r) => r.lines.slice(0, 4))
    const ifname = (dir: string, op: string) => [`[ meta load ${dir} => reg 1 ]`, `[ cmp ${op} reg 1 0x7262636d 0x00000030 0x00000000 0x00000000 ]`]
    expect(drops).toContainEqual([...ifname('iifname', 'eq'), ...ifname('oifname', 'neq')])
    expect(drops).toContainEqual([...ifname('oifname', 'eq'), ...ifname('iifname', 'neq')])
  })
})

describe('published ports', () => {
  const port = (over: Partial<PortRule>): PortRule => ({ proto: 'tcp', hostIp: '', hostPort: 8080, containerIp: '10.88.0.2', containerPort: 80, ...over })

  test('any host address: fib daddr type local, tcp dport 8080, dnat to 10.88.0.2:80, in prerouting and output', async () => {
    const { fw, batches } = recordingFirewall()
    await fw.addPorts('c1', [port({})])
    const rules = batches[0].commands.filter((c) => c.msg === NftMsg.NEWRULE).map(ruleOf)
    const lines = [
      '[ fib daddr type => reg 1 ]',
      '[ cmp eq reg 1 0x00000002 ]',
      '[ meta load l4proto => reg 1 ]',
      '[ cmp eq reg 1 0x00000006 ]',
      '[ payload load 2b @ transport header + 2 => reg 1 ]',
      '[ cmp eq reg 1 0x0000901f ]',
      '[ counter pkts 0 bytes 0 ]',
      '[ immediate reg 1 0x0200580a ]',
      '[ immediate reg 2 0x00005000 ]',
      '[ nat dnat ip addr_min reg 1 proto_min reg 2 ]',
    ]
    expect(rules).toEqual([
      { table: 'minicontainer_t1', chain: 'prerouting', owner: 'ctr:c1', lines },
      { table: 'minicontainer_t1', chain: 'output', owner: 'ctr:c1', lines },
    ])
  })

  test('one host address and udp: ip daddr 127.0.0.1 udp dport 53, dnat to 10.88.0.3:5353; 0.0.0.0 means any address', async () => {
    const { fw, batches } = recordingFirewall()
    await fw.addPorts('c2', [port({ proto: 'udp', hostIp: '127.0.0.1', hostPort: 53, containerIp: '10.88.0.3', containerPort: 5353 }), port({ hostIp: '0.0.0.0' })])
    const rules = batches[0].commands.filter((c) => c.msg === NftMsg.NEWRULE).map(ruleOf)
    expect(rules[0].lines).toEqual([
      '[ payload load 4b @ network header + 16 => reg 1 ]',
      '[ cmp eq reg 1 0x0100007f ]',
      '[ meta load l4proto => reg 1 ]',
      '[ cmp eq reg 1 0x00000011 ]',
      '[ payload load 2b @ transport header + 2 => reg 1 ]',
      '[ cmp eq reg 1 0x00003500 ]',
      '[ counter pkts 0 bytes 0 ]',
      '[ immediate reg 1 0x0300580a ]',
      '[ immediate reg 2 0x0000e914 ]',
      '[ nat dnat ip addr_min reg 1 proto_min reg 2 ]',
    ])
    expect(rules[2].lines.slice(0, 2)).toEqual(['[ fib daddr type => reg 1 ]', '[ cmp eq reg 1 0x00000002 ]'])
  })

  test('no ports: no batch at all', async () => {
    const { fw, batches } = recordingFirewall()
    await fw.addPorts('c3', [])
    expect(batches).toEqual([])
  })
})

describe('removal by owner', () => {
  const dumped = (chain: string, handle: bigint, owner?: string, table = 'minicontainer_t1') => {
    const h = Buffer.alloc(8)
    h.writeBigUInt64BE(handle)
    return new Map<number, Buffer>([[1, Buffer.from(`${table}\0`)], [2, Buffer.from(`${chain}\0`)], [3, h], ...(owner ? [[7, ruleComment(owner)] as [number, Buffer]] : [])])
  }

  test("removeContainer deletes exactly that owner's rules of this table, by handle", async () => {
    const { fw, batches, dumps } = recordingFirewall([
      dumped('prerouting', 10n, 'ctr:c1'), dumped('output', 11n, 'ctr:c1'), dumped('prerouting', 12n, 'ctr:c10'),
      dumped('postrouting', 13n, 'net:c1'), dumped('forward', 14n), dumped('prerouting', 15n, 'ctr:c1', 'minicontainer_other'),
    ])
    expect(await fw.removeContainer('c1')).toBe(2)
    expect(dumps[0].msg).toBe(NftMsg.GETRULE)
    const deleted = batches[0].commands.map((c) => {
      expect(c.msg).toBe(NftMsg.DELRULE)
      const a = new Map(c.attrs.flatMap((b) => tlvs(b)))
      return [str(a.get(1)), str(a.get(2)), a.get(3)!.readBigUInt64BE(0)]
    })
    expect(deleted).toEqual([['minicontainer_t1', 'prerouting', 10n], ['minicontainer_t1', 'output', 11n]])
  })
})

describe('rule comments (libnftnl userdata: u8 type NFTNL_UDATA_RULE_COMMENT 0, u8 length, NUL-terminated text)', () => {
  test('bytes of "net:n1", and back', () => {
    expect(ruleComment('net:n1').toString('hex')).toBe('0007' + Buffer.from('net:n1\0').toString('hex'))
    expect(parseRuleComment(ruleComment('net:n1'))).toBe('net:n1')
  })
  test('other userdata records before the comment are skipped; none or a truncated one gives undefined', () => {
    expect(parseRuleComment(Buffer.concat([Buffer.from([1, 1, 0]), ruleComment('ctr:x')]))).toBe('ctr:x')
    expect(parseRuleComment(undefined)).toBeUndefined()
    expect(parseRuleComment(Buffer.from([1, 1, 0]))).toBeUndefined()
  })
})

describe('batch framing (as `nft --debug=mnl` shows a batch)', () => {
  test('BATCH_BEGIN (type 0x10, res_id 10 = NFNL_SUBSYS_NFTABLES), the command (subsystem << 8 | msg, REQUEST|ACK added), BATCH_END (0x11)', () => {
    const cmd: NftCommand = { msg: NftMsg.NEWTABLE, flags: NLM_F_CREATE, attrs: [Buffer.from('090001006d635f7400000000', 'hex')] }
    const bytes = batchDatagram([cmd], 2, { begin: 7, commands: [8], end: 9 })
    const nlmsghdr = (len: number, type: number, flags: number, seq: number) => {
      const h = Buffer.alloc(16)
      h.writeUInt32LE(len, 0)
      h.writeUInt16LE(type, 4)
      h.writeUInt16LE(flags, 6)
      h.writeUInt32LE(seq, 8)
      return h.toString('hex')
    }
    const NLM_F_REQUEST = 1
    const NLM_F_ACK = 4
    expect(bytes.toString('hex')).toBe(
      nlmsghdr(20, 0x10, NLM_F_REQUEST, 7) + '0000000a' +
      nlmsghdr(32, 0x0a00, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE, 8) + '02000000' + '090001006d635f7400000000' +
      nlmsghdr(20, 0x11, NLM_F_REQUEST, 9) + '0000000a',
    )
  })
})
