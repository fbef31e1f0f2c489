/**
 * Debug output for people chasing a problem: `NODE_DEBUG=minicontainer node app.js`
 * prints the steps that matter (specs sent to the shim and its replies,
 * netlink and nf_tables batches, mounts, cleanup) on stderr. Free when off.
 *
 * @module
 */
import { debuglog } from 'node:util'

/** `util.debuglog('minicontainer')`: printf-style, a no-op unless NODE_DEBUG names minicontainer. */
export const debug = debuglog('minicontainer')
