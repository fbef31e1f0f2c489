/**
 * Collection of what runtimes whose root directory no longer exists left
 * on the host: a temporary runtime removed without `close()` (a crashed
 * test run, a deleted temp dir) leaves its bridges, veths, nf_tables table,
 * accept rules in other firewalls' chains and host-wide subnet claims.
 * Bridges and tables carry their runtime's root (ifalias, table comment:
 * names.ts ownerMark), so any runtime can tell they are abandoned; it
 * collects them at its first network use.
 *
 * The default runtime's root (/var/lib/minicontainer) stays, so its bridge
 * persists like docker0.
 *
 * @module
 */
import * as fs from 'node:fs'
import { collectStaleHostSubnets } from './host-subnets'
import { rootOfMark, tagOfLink } from './names'
import type { Firewall } from './nftables'
import type { Rtnl } from './rtnl'

const rootGone = (root: string | undefined): boolean => root !== undefined && !fs.existsSync(root)

/** Removes every abandoned runtime's kernel objects and subnet claims. */
export async function collectAbandoned(host: Rtnl, fw: Firewall): Promise<void> {
  for (const t of await fw.runtimeTables()) if (rootGone(rootOfMark(t.owner))) await fw.deleteOtherTable(t.name)
  const links = await host.links()
  const deadTags = new Set<string>()
  for (const l of links) {
    if (!rootGone(rootOfMark(l.alias))) continue
    await host.deleteLink(l.name)
    const tag = tagOfLink(l.name)
    if (tag) deadTags.add(tag)
  }
  // Their containers' host-side veths (normally gone with the containers' namespaces).
  for (const l of links) if (l.name.startsWith('mcv') && deadTags.has(tagOfLink(l.name) ?? '')) await host.deleteLink(l.name)
  // Accept rules whose bridge is gone (checked one by one after the dump: a bridge always exists before its rules).
  await fw.closeForward(async (bridge) => !(await host.link(bridge)))
  collectStaleHostSubnets()
}
