/**
 * Who the container's processes run as and with what environment:
 * resolving `user` against the image's /etc/passwd and /etc/group, and
 * merging environments the way Docker does.
 *
 * @module
 */
import * as fs from 'node:fs'
import { InvalidArgumentError } from '../errors'
import { AT_FDCWD, closeQuietly, O_CLOEXEC, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, tryOpenat2 } from '../sys/libc'
import type { ProcessSpec } from '../shim/spec'
import { isNumericId, parseUserId } from '../util/user-id'

const defaultPath = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

/** Turns `{K: 'v'}` or `['K=v']` into `['K=v']`, validating names. */
export function envList(env: Record<string, string> | string[] | undefined): string[] {
  if (!env) return []
  if (!Array.isArray(env)) checkEnvNames(Object.keys(env))
  const list = Array.isArray(env) ? env : Object.entries(env).map(([k, v]) => `${k}=${v}`)
  for (const e of list)
    if (typeof e !== 'string' || !/^[^=\0]+=/.test(e) || e.includes('\0'))
      throw new InvalidArgumentError(`invalid environment entry ${JSON.stringify(e)}: expected "NAME=value"`)
  return list
}

/** An object's keys are whole names: `{ 'A=B': 'x' }` would otherwise set A to "B=x". */
function checkEnvNames(names: string[]): void {
  for (const name of names)
    if (!name || name.includes('=') || name.includes('\0'))
      throw new InvalidArgumentError(`invalid environment variable name ${JSON.stringify(name)}: names must be non-empty and contain no "=" or NUL`)
}

/** Later entries override earlier ones with the same name, keeping first-seen order. */
export function mergeEnv(...lists: string[][]): string[] {
  const byName = new Map<string, string>()
  for (const list of lists) for (const e of list) byName.set(e.slice(0, e.indexOf('=')), e)
  return [...byName.values()]
}

/** How many read-only layer stacks' databases {@link readFromLayers} remembers (a process runs few images). */
const rememberedStacks = 32

/** Per read-only layer stack and file, what {@link readFromLayers} found in it (undefined: in none of its layers). */
const readOnlyFiles = new Map<string, { text: string | undefined }>()

/**
 * Reads a file of the container's filesystem from its layer dirs (top first), confined to each layer.
 * The first layer is the container's writable one, read every time; the others (the image's layers,
 * the init layer) never change once made, so what they hold is read once per process.
 */
function readFromLayers(layers: string[], file: string): string | undefined {
  const [writable, ...readOnly] = layers
  const own = writable === undefined ? undefined : readInLayer(writable, file)
  if (own !== undefined || !readOnly.length) return own
  const key = `${file}\0${readOnly.join('\0')}`
  let found = readOnlyFiles.get(key)
  if (!found) {
    found = { text: undefined }
    for (const layer of readOnly) if ((found.text = readInLayer(layer, file)) !== undefined) break
    if (readOnlyFiles.size >= rememberedStacks) readOnlyFiles.delete(readOnlyFiles.keys().next().value!)
    readOnlyFiles.set(key, found)
  }
  return found.text
}

/**
 * `file` of one layer, resolved inside it; undefined when the layer lacks it. Asked at every start
 * in every layer (an image without /etc/group misses it in all): a miss makes no error object.
 */
function readInLayer(layer: string, file: string): string | undefined {
  const dirfd = tryOpenat2(AT_FDCWD, layer, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | O_CLOEXEC, 0, 0)
  if (dirfd < 0) return undefined
  const fd = tryOpenat2(dirfd, file, fs.constants.O_RDONLY | O_CLOEXEC, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
  closeQuietly(dirfd)
  if (fd < 0) return undefined
  try {
    return fs.readFileSync(fd, 'utf8')
  } catch {
    return undefined // a directory, or unreadable: not a database to read
  } finally {
    closeQuietly(fd)
  }
}

interface Identity {
  uid: number
  gid: number
  additionalGids: number[]
  home: string
}

function parseDb(text: string | undefined): string[][] {
  return (text ?? '').split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(':'))
}

/**
 * Resolves `user` ("name", "uid", "uid:gid", "name:group") against the
 * image's databases. Supplementary groups are Docker's: every group of
 * /etc/group whose gid is the primary one or that lists the user, plus
 * `groupAdd` (names or gids). Every id, given or read from the image, must
 * be in Docker's range (user-id.ts): EINVALID otherwise.
 */
export function resolveUser(user: string, layers: string[], groupAdd: string[] = []): Identity {
  const groups = parseDb(readFromLayers(layers, '/etc/group'))
  // Root needs no passwd lookup: root's home is /root.
  if (user === '' || user === 'root' || user === '0') return { uid: 0, gid: 0, additionalGids: supplementaryGids(groups, 'root', 0, groupAdd), home: '/root' }
  const [u = '', g] = user.split(':')
  const passwd = parseDb(readFromLayers(layers, '/etc/passwd'))
  const entry = passwd.find((p) => p[0] === u || (isNumericId(u) && p[2] === u))
  let uid: number
  if (isNumericId(u)) uid = parseUserId(u, `the uid of user "${user}"`)
  else if (!u) uid = 0
  else if (entry) uid = parseUserId(entry[2] ?? '', `the uid of user ${u} in the image's /etc/passwd`)
  else throw new InvalidArgumentError(`unable to find user ${u}: no matching entries in the image's /etc/passwd (use a numeric uid)`)
  let gid = entry ? parseUserId(entry[3] ?? '', `the gid of user ${entry[0]} in the image's /etc/passwd`) : 0
  if (g !== undefined) gid = groupId(groups, g, `the gid of user "${user}"`)
  // With an explicit group (`user:group`), Docker looks up only that group, not the user's memberships.
  const memberOf = g === undefined ? entry?.[0] : undefined
  return { uid, gid, additionalGids: supplementaryGids(groups, memberOf, gid, groupAdd), home: entry?.[5] || (uid === 0 ? '/root' : '/') }
}

/** A group given as a gid or a name of the image's /etc/group; `what` names it in errors. */
function groupId(groups: string[][], g: string, what: string): number {
  if (isNumericId(g)) return parseUserId(g, what)
  const group = groups.find((gr) => gr[0] === g)
  if (!group) throw new InvalidArgumentError(`unable to find group ${g}: no matching entries in the image's /etc/group (use a group name or a gid)`)
  return parseUserId(group[2] ?? '', `the gid of group ${g} in the image's /etc/group`)
}

/**
 * Checks the ids written in a `user` option and in `groupAdd` at create,
 * so a container that could never start is not made; names are resolved
 * against the image at start ({@link resolveUser}), as in Docker.
 */
export function checkUserOption(user: string | undefined, groupAdd: string[] = []): void {
  const [u = '', g] = (user ?? '').split(':')
  if (isNumericId(u)) parseUserId(u, `the uid of user "${user}"`)
  if (g !== undefined && isNumericId(g)) parseUserId(g, `the gid of user "${user}"`)
  for (const id of groupAdd) if (isNumericId(id)) parseUserId(id, 'the groupAdd gid')
}

/**
 * Docker's supplementary groups: the groups of /etc/group with the primary
 * gid or listing `memberOf` as a member, then `groupAdd`.
 */
function supplementaryGids(groups: string[][], memberOf: string | undefined, gid: number, groupAdd: string[]): number[] {
  const gids = groups
    .filter((gr) => Number(gr[2]) === gid || (!!memberOf && (gr[3] ?? '').split(',').includes(memberOf)))
    .map((gr) => parseUserId(gr[2] ?? '', `the gid of group ${gr[0]} in the image's /etc/group`))
  for (const g of groupAdd) gids.push(groupId(groups, g, 'the groupAdd gid'))
  return [...new Set(gids)]
}

/** The process spec for a container or exec: identity, environment, capabilities. */
export function processSpec(opts: {
  args: string[]
  imageEnv: string[]
  env: string[]
  hostname?: string
  cwd: string
  user: string
  /** Extra supplementary groups (`--group-add`). */
  groupAdd?: string[]
  layers: string[]
  capabilities: bigint
  rlimits?: ProcessSpec['rlimits']
}): ProcessSpec {
  const id = resolveUser(opts.user, opts.layers, opts.groupAdd)
  const base = [defaultPath, ...(opts.hostname ? [`HOSTNAME=${opts.hostname}`] : [])]
  const env = mergeEnv(base, opts.imageEnv, opts.env)
  if (!env.some((e) => e.startsWith('HOME='))) env.push(`HOME=${id.home}`)
  return {
    args: opts.args,
    env,
    cwd: opts.cwd || '/',
    uid: id.uid,
    gid: id.gid,
    additionalGids: id.additionalGids,
    capabilities: opts.capabilities,
    noNewPrivileges: false,
    ...(opts.rlimits?.length ? { rlimits: opts.rlimits } : {}),
  }
}
