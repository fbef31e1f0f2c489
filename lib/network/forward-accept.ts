/**
 * Coexistence with the host's other firewalls. nf_tables runs every base
 * chain on a hook, and a packet must pass all of them: our own table
 * accepting a forwarded packet does not save it from Docker's `FORWARD`
 * chain with `policy drop`, nor from a host `inet filter` forward chain
 * with `policy drop`. With br_netfilter (bridge-nf-call-iptables = 1,
 * which Docker turns on) even traffic between two containers on the same
 * bridge passes those chains.
 *
 * So each of our bridges gets two accept rules (`-i <bridge>`, `-o <bridge>`)
 * at the head of:
 * - Docker's `DOCKER-USER` chain (table `ip filter`) when it exists: the
 *   place Docker reserves for its users' rules and never flushes;
 * - else `ip filter FORWARD`, when its policy is drop (ufw, a hand-made
 *   iptables firewall);
 * - every other forward-hook base chain with policy drop (a host `inet filter`
 *   table, as Debian's /etc/nftables.conf template has).
 *
 * They only get packets past those policies: isolation between our
 * networks stays in our own table (a drop there is final). The rules use
 * only what iptables-nft itself writes (interface match, counter, verdict,
 * comment), so `iptables -S` prints them normally and Docker's own iptables
 * calls keep working:
 *
 *   -A DOCKER-USER -i mc1a2b3c0 -m comment --comment minicontainer:mc1a2b3c0 -j ACCEPT
 *
 * Policies and other rules are never touched. The comment names the
 * bridge, so the rules are found again after a crash and removed with it.
 *
 * An iptables-legacy host keeps its chains outside nf_tables, where these
 * rules cannot reach; see {@link checkLegacyForward}.
 *
 * @module
 */
import * as fs from 'node:fs'
import { LegacyFirewallError } from './errors'
import { NfNetlink, NftMsg, NFPROTO_INET, NFPROTO_IPV4, NFPROTO_UNSPEC, type NftCommand } from './nfnetlink'
import { attr, attrString, nested, parseAttrs, strAttr, u64beAttr } from './nlattr'
import * as x from './nft-expr'

const CHAIN_TABLE = 1
const CHAIN_NAME = 3
const CHAIN_HOOK = 4
const CHAIN_POLICY = 5
const HOOK_NUM = 1
const NF_INET_FORWARD = 2
const RULE_TABLE = 1
const RULE_CHAIN = 2
const RULE_HANDLE = 3
const RULE_EXPRESSIONS = 4
const RULE_USERDATA = 7

/** Comments of our accept rules: this prefix, then the bridge name. */
const COMMENT_PREFIX = 'minicontainer:'

/** A chain in which our bridges need accept rules. */
export interface ForwardChain {
  family: number
  table: string
  chain: string
}

/** One of our accept rules found in a foreign chain. */
interface AcceptRule extends ForwardChain {
  handle: bigint
  bridge: string
}

/** The chains that would drop our bridges' forwarded traffic (see the module comment). */
export async function forwardChainsToOpen(nl: NfNetlink): Promise<ForwardChain[]> {
  const chains = (await nl.dumpObjects(NftMsg.GETCHAIN, [], NFPROTO_UNSPEC))
    .filter((o) => o.family === NFPROTO_IPV4 || o.family === NFPROTO_INET)
    .map((o) => {
      const hook = o.attrs.get(CHAIN_HOOK)
      return {
        family: o.family,
        table: attrString(o.attrs.get(CHAIN_TABLE)) ?? '',
        chain: attrString(o.attrs.get(CHAIN_NAME)) ?? '',
        forwardHook: hook !== undefined && parseAttrs(hook).get(HOOK_NUM)?.readUInt32BE(0) === NF_INET_FORWARD,
        dropPolicy: o.attrs.get(CHAIN_POLICY)?.readUInt32BE(0) === x.Verdict.drop,
      }
    })
    .filter((c) => !c.table.startsWith('minicontainer_'))
  const isIptables = (c: { family: number; table: string }) => c.family === NFPROTO_IPV4 && c.table === 'filter'
  const out: ForwardChain[] = []
  const dockerUser = chains.find((c) => isIptables(c) && c.chain === 'DOCKER-USER')
  if (dockerUser) out.push(dockerUser)
  for (const c of chains) if (c.forwardHook && c.dropPolicy && !(dockerUser && isIptables(c))) out.push(c)
  return out.map(({ family, table, chain }) => ({ family, table, chain }))
}

/** Our accept rules anywhere in the ip and inet families. */
async function acceptRules(nl: NfNetlink): Promise<AcceptRule[]> {
  const out: AcceptRule[] = []
  for (const o of await nl.dumpObjects(NftMsg.GETRULE, [], NFPROTO_UNSPEC)) {
    const comment = x.parseRuleComment(o.attrs.get(RULE_USERDATA))
    if (!comment?.startsWith(COMMENT_PREFIX)) continue
    out.push({
      family: o.family,
      table: attrString(o.attrs.get(RULE_TABLE)) ?? '',
      chain: attrString(o.attrs.get(RULE_CHAIN)) ?? '',
      handle: o.attrs.get(RULE_HANDLE)?.readBigUInt64BE(0) ?? 0n,
      bridge: comment.slice(COMMENT_PREFIX.length),
    })
  }
  return out
}

const sameChain = (a: ForwardChain, b: ForwardChain) => a.family === b.family && a.table === b.table && a.chain === b.chain

/** `iifname|oifname <bridge> counter accept`, inserted at the head of `c` (no NLM_F_APPEND: before Docker's RETURN). */
function acceptCommand(c: ForwardChain, dir: 'iif' | 'oif', bridge: string): NftCommand {
  const exprs = [x.meta(dir === 'iif' ? x.MetaKey.iifname : x.MetaKey.oifname), x.cmp(x.CmpOp.eq, x.ifnameValue(bridge)), x.counter(), x.verdict(x.Verdict.accept)]
  return { msg: NftMsg.NEWRULE, flags: NLM_F_CREATE, attrs: [strAttr(RULE_TABLE, c.table), strAttr(RULE_CHAIN, c.chain), nested(RULE_EXPRESSIONS, exprs), attr(RULE_USERDATA, x.ruleComment(COMMENT_PREFIX + bridge))] }
}
const NLM_F_CREATE = 0x400

/**
 * Makes sure `bridge` has its accept rules in every chain that needs them
 * (idempotent: chains that have them already are skipped).
 */
export async function openForward(nl: NfNetlink, bridge: string): Promise<void> {
  const have = (await acceptRules(nl)).filter((r) => r.bridge === bridge)
  for (const c of await forwardChainsToOpen(nl)) {
    if (have.some((r) => sameChain(r, c))) continue
    // Each chain in its own batch: a batch carries one family.
    await nl.batch(`open ${c.table} ${c.chain} for ${bridge}`, [acceptCommand(c, 'oif', bridge), acceptCommand(c, 'iif', bridge)], c.family)
  }
}

/** Removes the accept rules of the bridges for which `doomed` holds (default: just `bridge`); idempotent. */
export async function closeForward(nl: NfNetlink, doomed: (bridge: string) => boolean | Promise<boolean>): Promise<void> {
  for (const r of await acceptRules(nl)) {
    if (!(await doomed(r.bridge))) continue
    const del = { msg: NftMsg.DELRULE, attrs: [strAttr(RULE_TABLE, r.table), strAttr(RULE_CHAIN, r.chain), u64beAttr(RULE_HANDLE, r.handle)] }
    await nl.batch(`remove accept rule of ${r.bridge}`, [del], r.family).catch((err) => {
      // Gone meanwhile (another process cleaning up, Docker recreating its chain): nothing left to do.
      if ((err as { errno?: string }).errno !== 'ENOENT') throw err
    })
  }
}

/**
 * iptables-legacy keeps its tables in x_tables, outside nf_tables: a
 * legacy `FORWARD` with policy DROP (Docker on an iptables-legacy host)
 * drops our bridges' traffic whatever nf_tables says, and minicontainer
 * writes no legacy rules. The kernel lists legacy tables in
 * /proc/net/ip_tables_names; when `filter` is there, its policy is
 * unknown to us, so say exactly what to do rather than fail silently.
 * Throws {@link LegacyFirewallError}; called before a bridge is made.
 */
export function checkLegacyForward(bridge: string): void {
  let names = ''
  try {
    names = fs.readFileSync('/proc/net/ip_tables_names', 'utf8')
  } catch {
    return // no x_tables at all
  }
  if (names.split('\n').includes('filter') && !legacyAcknowledged()) throw new LegacyFirewallError(bridge)
}

/** MINICONTAINER_IPTABLES_LEGACY=accept: the user has added the legacy rules the error names. */
function legacyAcknowledged(): boolean {
  return process.env.MINICONTAINER_IPTABLES_LEGACY === 'accept'
}
