/**
 * An OCI image layout built by umoci (an independent producer): busybox in
 * a first layer with /etc/gone and /opt/dir/{a,b}; a second layer that
 * deletes /etc/gone and replaces /opt/dir with one holding only "c"; a
 * config whose command prints what it sees. Tag "base".
 */
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { busyboxRootfs } from '../helpers'

/** Runs a tool and returns its stdout; throws (failing the test) when it is missing or fails. */
export const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26 }).toString()

/** Builds the layout under `work`/oci and returns its path; `config` adds umoci config flags (a --config.cmd there replaces the default command). */
export function buildOciLayout(work: string, config: string[] = []): string {
  const layout = path.join(work, 'oci')
  const bundle = path.join(work, 'bundle')
  sh('umoci', ['init', '--layout', layout])
  sh('umoci', ['new', '--image', `${layout}:base`])
  sh('umoci', ['unpack', '--image', `${layout}:base`, bundle])
  const rootfs = path.join(bundle, 'rootfs')
  if (!busyboxRootfs(rootfs)) throw new Error('busybox-static is required (apt-get install busybox-static)')
  fs.writeFileSync(path.join(rootfs, 'etc/gone'), 'deleted in layer 2\n')
  fs.mkdirSync(path.join(rootfs, 'opt/dir'), { recursive: true })
  for (const f of ['a', 'b']) fs.writeFileSync(path.join(rootfs, 'opt/dir', f), f)
  sh('umoci', ['repack', '--refresh-bundle', '--image', `${layout}:base`, bundle])
  fs.rmSync(path.join(rootfs, 'etc/gone'))
  fs.rmSync(path.join(rootfs, 'opt/dir'), { recursive: true })
  fs.mkdirSync(path.join(rootfs, 'opt/dir'))
  fs.writeFileSync(path.join(rootfs, 'opt/dir/c'), 'c')
  sh('umoci', ['repack', '--image', `${layout}:base`, bundle])
  const cmd = config.includes('--config.cmd') ? [] : ['--config.cmd', 'sh', '--config.cmd', '-c', '--config.cmd', 'echo $GREETING; pwd; ls /opt/dir; test -e /etc/gone || echo gone']
  sh('umoci', ['config', '--image', `${layout}:base`, '--config.env', 'GREETING=hello', '--config.workingdir', '/opt', ...cmd, ...config])
  fs.rmSync(bundle, { recursive: true, force: true })
  return layout
}
