/**
 * A minimal Debian bookworm root filesystem (mmdebstrap's minbase variant:
 * Essential and Priority required, so dash as /bin/sh, passwd's useradd,
 * coreutils...) as a tarball, for tests that build FROM a real distribution
 * as users do. Made from the host's apt mirror in about 20 s, then kept in a
 * cache directory (MC_TEST_CACHE, default /var/cache/minicontainer-test,
 * as test/vm keeps its kernels) under a name keyed by the day and the
 * options, so the suite makes it once a day, not once a run. Missing
 * mmdebstrap is a failure, never a skip.
 */
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'

const cacheDir = process.env.MC_TEST_CACHE || '/var/cache/minicontainer-test'

/** What the rootfs is made of: the suite, the variant and the dpkg paths left out (as debian:bookworm-slim leaves docs out, which makes it a third smaller). */
const recipe = {
  suite: 'bookworm',
  variant: 'minbase',
  excluded: ['/usr/share/doc/*', '/usr/share/man/*', '/usr/share/info/*', '/usr/share/locale/*', '/usr/share/lintian/*'],
}

/** The config the official debian images have, given to both imports: PATH in Env, bash as Cmd. */
export const debianConfig = { env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], cmd: ['bash'] }

/** The cached tarball's name: the day (UTC; the archive moves on) and a hash of the recipe. */
function cachedName(): string {
  const day = new Date().toISOString().slice(0, 10)
  const hash = createHash('sha256').update(JSON.stringify(recipe)).digest('hex').slice(0, 12)
  return `debian-${recipe.suite}-${recipe.variant}-${day}-${hash}.tar`
}

function mmdebstrapPath(): string {
  const found = ['/usr/bin/mmdebstrap', '/usr/local/bin/mmdebstrap'].find((p) => fs.existsSync(p))
  if (!found) throw new Error('mmdebstrap is not installed: the Debian-based build differential needs it (apt-get install mmdebstrap; see test/prerequisites.txt)')
  return found
}

/**
 * The path of the cached Debian rootfs tarball, made first when today's is
 * missing. Concurrent makers (jest workers) each write a temp file and
 * rename it into place, so a reader never sees a partial tarball; older
 * days' tarballs are removed once today's is there.
 */
export function debianRootfsTarball(): string {
  const name = cachedName()
  const tarball = path.join(cacheDir, name)
  if (fs.existsSync(tarball)) return tarball
  const mmdebstrap = mmdebstrapPath()
  fs.mkdirSync(cacheDir, { recursive: true })
  const partial = `${tarball}.${process.pid}.partial`
  try {
    const dpkgOpts = recipe.excluded.flatMap((p) => ['--dpkgopt', `path-exclude=${p}`])
    execFileSync(mmdebstrap, ['--quiet', `--variant=${recipe.variant}`, ...dpkgOpts, '--format=tar', recipe.suite, partial], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 300_000 })
    fs.renameSync(partial, tarball)
  } catch (err) {
    fs.rmSync(partial, { force: true })
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim().split('\n').slice(-20).join('\n')
    throw new Error(`mmdebstrap could not make the Debian ${recipe.suite} rootfs (it fetches from the host's apt mirror):\n${stderr ?? err}`)
  }
  for (const old of fs.readdirSync(cacheDir)) if (old.startsWith(`debian-${recipe.suite}-`) && old !== name && !old.endsWith('.partial')) fs.rmSync(path.join(cacheDir, old), { force: true })
  return tarball
}
