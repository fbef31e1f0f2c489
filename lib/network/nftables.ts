/**
 * minicontainer's nf_tables ruleset: one `ip` table per runtime
 * (`minicontainer_<tag>`), so runtimes never touch each other's rules, or
 * anyone else's (docker, firewalld).
 *
 * ```
 * table ip minicontainer_<tag> {
 *   chain prerouting  { type nat hook prerouting priority -100 }   # published ports, from outside
 *   chain output      { type nat hook output priority -100 }       # published ports, from the host itself
 *   chain postrouting { type nat hook postrouting priority 100 }   # outbound masquerade, localhost hairpin
 *   chain forward     { type filter hook forward priority 0 }      # isolation between networks
 *   chain input       { type filter hook input priority 0 }        # exposed host ports: only their own network
 * }
 * ```
 *
 * Every rule carries an nft comment naming its owner ("net:<id>" or
 * "ctr:<id>"), so an owner's rules are found by dumping the table and
 * removed by handle: no handle bookkeeping, and it works after a crash.
 *
 * @module
 */
import { parseIp, maskOf, type Cidr } from './ipam'
import { attr, attrString, nested, strAttr, u64beAttr } from './nlattr'
import { NftablesError } from './errors'
import { NfNetlink, NftMsg, type NftCommand } from './nfnetlink'
import * as x from './nft-expr'
import { closeForward, openForward } from './forward-accept'

const NLM_F_CREATE = 0x400
const NLM_F_APPEND = 0x800

const TABLE_NAME = 1
const TABLE_USERDATA = 6
const CHAIN_TABLE = 1
const CHAIN_NAME = 3
const CHAIN_HOOK = 4
const CHAIN_POLICY = 5
const CHAIN_TYPE = 7
const HOOK_NUM = 1
const HOOK_PRIORITY = 2
const RULE_TABLE = 1
const RULE_CHAIN = 2
const RULE_HANDLE = 3
const RULE_EXPRESSIONS = 4
const RULE_USERDATA = 7

const IPPROTO = { tcp: 6, udp: 17 } as const

/** Our base chains. */
const chains = [
  { name: 'prerouting', type: 'nat', hook: 0, priority: -100 },
  { name: 'output', type: 'nat', hook: 3, priority: -100 },
  { name: 'postrouting', type: 'nat', hook: 4, priority: 100 },
  { name: 'forward', type: 'filter', hook: 2, priority: 0 },
  { name: 'input', type: 'filter', hook: 1, priority: 0 },
] as const

type ChainName = (typeof chains)[number]['name']

/** What a network needs from the firewall. */
export interface NetworkRules {
  id: string
  bridge: string
  subnet: Cidr
  internal: boolean
}

/** One published port after resolution (concrete host port, container address). */
export interface PortRule {
  proto: 'tcp' | 'udp'
  /** "" or "0.0.0.0" for every host address. */
  hostIp: string
  hostPort: number
  containerIp: string
  containerPort: number
}

interface Rule {
  chain: ChainName
  exprs: x.Expr[]
}

function u16be(n: number): Buffer {
  const b = Buffer.alloc(2)
  b.writeUInt16BE(n)
  return b
}

function u32be(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n >>> 0)
  return b
}

/** `ip saddr|daddr <cidr>` */
function matchAddr(field: 'saddr' | 'daddr', c: Cidr): x.Expr[] {
  const load = x.payload(x.PayloadBase.network, field === 'saddr' ? 12 : 16, 4)
  if (c.prefix === 32) return [load, x.cmp(x.CmpOp.eq, u32be(c.network))]
  return [load, x.bitwiseMask(u32be(maskOf(c.prefix))), x.cmp(x.CmpOp.eq, u32be(c.network))]
}

function matchIfname(dir: 'iif' | 'oif', op: number, name: string, prefixOnly = false): x.Expr[] {
  return [x.meta(dir === 'iif' ? x.MetaKey.iifname : x.MetaKey.oifname), x.cmp(op, x.ifnameValue(name, prefixOnly))]
}

/** The firewall rules of one network. */
function networkRules(n: NetworkRules, bridgePrefix: string): Rule[] {
  const eq = x.CmpOp.eq
  const neq = x.CmpOp.neq
  const rules: Rule[] = [
    // Published ports reached on 127.0.0.1: the DNATed packet leaves via the bridge with a
    // loopback source the container could not answer; give it the gateway's address instead.
    { chain: 'postrouting', exprs: [...matchAddr('saddr', { network: parseIp('127.0.0.0'), prefix: 8 }), ...matchIfname('oif', eq, n.bridge), x.counter(), x.masquerade()] },
    // Hairpin: a container reaching a published port (its own or a neighbour's) through a host address is
    // DNATed back into the same bridge; the reply would bypass the host and not be un-NATed. Make the host the peer.
    { chain: 'postrouting', exprs: [...matchAddr('saddr', n.subnet), ...matchIfname('oif', eq, n.bridge), x.ctStatus(), x.bitwiseMask(x.u32host(x.CT_STATUS_DNAT)), x.cmp(neq, x.u32host(0)), x.counter(), x.masquerade()] },
    // Isolation: nothing is routed from this network into another of our bridges.
    { chain: 'forward', exprs: [...matchIfname('iif', eq, n.bridge), ...matchIfname('oif', eq, bridgePrefix, true), ...matchIfname('oif', neq, n.bridge), x.counter(), x.verdict(x.Verdict.drop)] },
  ]
  if (n.internal) {
    // Internal networks reach nothing outside their bridge, and nothing reaches them.
    rules.push({ chain: 'forward', exprs: [...matchIfname('iif', eq, n.bridge), ...matchIfname('oif', neq, n.bridge), x.counter(), x.verdict(x.Verdict.drop)] })
    rules.push({ chain: 'forward', exprs: [...matchIfname('oif', eq, n.bridge), ...matchIfname('iif', neq, n.bridge), x.counter(), x.verdict(x.Verdict.drop)] })
  } else {
    rules.push({ chain: 'postrouting', exprs: [...matchAddr('saddr', n.subnet), ...matchIfname('oif', neq, n.bridge), x.counter(), x.masquerade()] })
  }
  return rules
}

/** `dnat` rules of one published port, for packets from outside (prerouting) and from the host (output). */
function portRules(p: PortRule): Rule[] {
  const anyAddr = p.hostIp === '' || p.hostIp === '0.0.0.0'
  const dst = anyAddr ? [x.fibDaddrType(), x.cmp(x.CmpOp.eq, x.rtnLocal())] : matchAddr('daddr', { network: parseIp(p.hostIp), prefix: 32 })
  const exprs = [
    ...dst,
    x.meta(x.MetaKey.l4proto),
    x.cmp(x.CmpOp.eq, Buffer.from([IPPROTO[p.proto]])),
    x.payload(x.PayloadBase.transport, 2, 2),
    x.cmp(x.CmpOp.eq, u16be(p.hostPort)),
    x.counter(),
    x.immediate(u32be(parseIp(p.containerIp)), x.REG_1),
    x.immediate(u16be(p.containerPort), x.REG_2),
    x.dnat(x.REG_1, x.REG_2),
  ]
  return [
    { chain: 'prerouting', exprs },
    { chain: 'output', exprs },
  ]
}

/** An exposed host port's relay listener: `gateway:port`, meant for the network on `bridge` only. */
export interface ExposureRule {
  bridge: string
  gateway: string
  port: number
}

/**
 * The listener is a local address: without this rule any of our other bridges (or a LAN
 * machine routing to the subnet) reaches it, since the host accepts any of its addresses
 * on any interface. What arrives neither on the network's own bridge nor from the host is dropped.
 */
function exposureRules(e: ExposureRule): Rule[] {
  const exprs = [
    ...matchAddr('daddr', { network: parseIp(e.gateway), prefix: 32 }),
    x.meta(x.MetaKey.l4proto),
    x.cmp(x.CmpOp.eq, Buffer.from([IPPROTO.tcp])),
    x.payload(x.PayloadBase.transport, 2, 2),
    x.cmp(x.CmpOp.eq, u16be(e.port)),
    ...matchIfname('iif', x.CmpOp.neq, e.bridge),
    // The host's own processes reach 127.0.0.1 anyway (and the wildcard check connects from here).
    ...matchIfname('iif', x.CmpOp.neq, 'lo'),
    x.counter(),
    x.verdict(x.Verdict.drop),
  ]
  return [{ chain: 'input', exprs }]
}

/** The nf_tables table of one runtime. */
export class Firewall {
  /**
   * @param table - the table's name; @param bridgePrefix - prefix shared by all our bridges (isolation);
   * @param owner - the runtime's owner mark, kept as the table's comment.
   */
  constructor(
    readonly table: string,
    private readonly bridgePrefix: string,
    private readonly owner = '',
    private readonly nl: NfNetlink = new NfNetlink(),
  ) {}

  /** Closes the netlink socket. */
  close(): void {
    this.nl.close()
  }

  private ruleCommand(owner: string, r: Rule): NftCommand {
    return {
      msg: NftMsg.NEWRULE,
      flags: NLM_F_CREATE | NLM_F_APPEND,
      attrs: [strAttr(RULE_TABLE, this.table), strAttr(RULE_CHAIN, r.chain), nested(RULE_EXPRESSIONS, r.exprs), attr(RULE_USERDATA, x.ruleComment(owner))],
    }
  }

  /** Commands creating the table and its base chains; harmless when they exist. */
  private tableCommands(): NftCommand[] {
    const table = [strAttr(TABLE_NAME, this.table)]
    // The owner mark outlives this process in the kernel: another runtime can tell the table is abandoned.
    if (this.owner) table.push(attr(TABLE_USERDATA, x.ruleComment(this.owner)))
    const cmds: NftCommand[] = [{ msg: NftMsg.NEWTABLE, flags: NLM_F_CREATE, attrs: table }]
    for (const c of chains) {
      const hook = nested(CHAIN_HOOK, [u32be4(HOOK_NUM, c.hook), u32be4(HOOK_PRIORITY, c.priority)])
      cmds.push({ msg: NftMsg.NEWCHAIN, flags: NLM_F_CREATE, attrs: [strAttr(CHAIN_TABLE, this.table), strAttr(CHAIN_NAME, c.name), hook, u32be4(CHAIN_POLICY, x.Verdict.accept), strAttr(CHAIN_TYPE, c.type)] })
    }
    return cmds
  }

  /** Installs a network's rules (creating the table on first use), atomically. */
  async addNetwork(n: NetworkRules): Promise<void> {
    await this.nl.batch(`add rules of network ${n.bridge}`, [...this.tableCommands(), ...networkRules(n, this.bridgePrefix).map((r) => this.ruleCommand(`net:${n.id}`, r))])
  }

  /** Installs a container's published ports, atomically (all or none). */
  async addPorts(containerId: string, ports: PortRule[]): Promise<void> {
    if (!ports.length) return
    await this.nl.batch('publish ports', [...this.tableCommands(), ...ports.flatMap(portRules).map((r) => this.ruleCommand(`ctr:${containerId}`, r))])
  }

  /** Restricts a container's exposed host ports to their own networks' bridges, atomically (all or none). */
  async addExposures(containerId: string, exposures: ExposureRule[]): Promise<void> {
    if (!exposures.length) return
    await this.nl.batch('restrict exposed host ports', [...this.tableCommands(), ...exposures.flatMap(exposureRules).map((r) => this.ruleCommand(`exp:${containerId}`, r))])
  }

  /** Removes a container's exposure rules. */
  removeExposures(containerId: string): Promise<number> {
    return this.removeOwned(`exp:${containerId}`)
  }

  /** Lets `bridge`'s traffic past other firewalls' forward chains (Docker's, a host policy); see forward-accept.ts. */
  openForward(bridge: string): Promise<void> {
    return openForward(this.nl, bridge)
  }

  /** Removes the accept rules of every bridge for which `doomed` holds. */
  closeForward(doomed: (bridge: string) => boolean | Promise<boolean>): Promise<void> {
    return closeForward(this.nl, doomed)
  }

  /** Removes a network's rules. */
  removeNetwork(id: string): Promise<number> {
    return this.removeOwned(`net:${id}`)
  }

  /** Removes a container's rules. */
  removeContainer(id: string): Promise<number> {
    return this.removeOwned(`ctr:${id}`)
  }

  /** Every rule of the table with its owner comment; empty when the table does not exist. */
  async rules(): Promise<{ chain: string; handle: bigint; owner?: string }[]> {
    let dumped
    try {
      dumped = await this.nl.dump(NftMsg.GETRULE, [strAttr(RULE_TABLE, this.table)])
    } catch (err) {
      if (err instanceof NftablesError && err.errno === 'ENOENT') return []
      throw err
    }
    return dumped
      .filter((a) => attrString(a.get(RULE_TABLE)) === this.table)
      .map((a) => ({ chain: attrString(a.get(RULE_CHAIN)) ?? '', handle: a.get(RULE_HANDLE)?.readBigUInt64BE(0) ?? 0n, owner: x.parseRuleComment(a.get(RULE_USERDATA)) }))
  }

  private async removeOwned(owner: string): Promise<number> {
    const doomed = (await this.rules()).filter((r) => r.owner === owner)
    await this.nl.batch(
      `remove rules of ${owner}`,
      doomed.map((r) => ({ msg: NftMsg.DELRULE, attrs: [strAttr(RULE_TABLE, this.table), strAttr(RULE_CHAIN, r.chain), u64beAttr(RULE_HANDLE, r.handle)] })),
    )
    return doomed.length
  }

  /** Owners ("net:<id>", "ctr:<id>", "exp:<id>") that have rules in the table. */
  async owners(): Promise<Set<string>> {
    return new Set((await this.rules()).map((r) => r.owner ?? ''))
  }

  /** Deletes the whole table (all rules and chains); false if it did not exist. */
  deleteTable(): Promise<boolean> {
    return deleteTable(this.nl, this.table)
  }

  /** Every runtime's table on the host (`minicontainer_*`) with the owner mark in its comment. */
  async runtimeTables(): Promise<{ name: string; owner?: string }[]> {
    return (await this.nl.dump(NftMsg.GETTABLE, []))
      .map((a) => ({ name: attrString(a.get(TABLE_NAME)) ?? '', owner: x.parseRuleComment(a.get(TABLE_USERDATA)) }))
      .filter((t) => t.name.startsWith('minicontainer_'))
  }

  /** Deletes another runtime's table (garbage collection). */
  deleteOtherTable(name: string): Promise<boolean> {
    return deleteTable(this.nl, name)
  }
}

async function deleteTable(nl: NfNetlink, name: string): Promise<boolean> {
  try {
    await nl.batch(`delete table ${name}`, [{ msg: NftMsg.DELTABLE, attrs: [strAttr(TABLE_NAME, name)] }])
    return true
  } catch (err) {
    if (err instanceof NftablesError && err.errno === 'ENOENT') return false
    throw err
  }
}

/** A big-endian 32-bit attribute from a possibly negative number (hook priorities). */
function u32be4(type: number, n: number): Buffer {
  return attr(type, u32be(n))
}
