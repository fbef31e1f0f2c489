/**
 * Test images built by independent tools: umoci writes an OCI image layout
 * (one layer per step, each step a function that edits the rootfs), skopeo
 * copies it into a registry. Nothing of minicontainer is involved.
 */
import { execFile, execFileSync } from 'node:child_process'
import { promisify } from 'node:util'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { requireTool } from './registry'

/** One layer: edits the unpacked rootfs. */
export type LayerStep = (rootfs: string) => void

/** Options of {@link buildOciImage}. */
export interface BuildOptions {
  /** Layers, bottom-most first. */
  layers: LayerStep[]
  cmd?: string[]
  entrypoint?: string[]
  env?: string[]
  workdir?: string
  /** e.g. "linux/arm64"; default the host's. */
  platform?: { os: string; architecture: string }
}

/** An OCI layout on disk holding "<dir>:latest". */
export interface OciLayout {
  dir: string
  tag: string
  remove(): void
}

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

/** Runs a tool without blocking the event loop (the token service of a test registry lives in this process). */
async function runAsync(cmd: string, args: string[]): Promise<string> {
  return (await promisify(execFile)(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 })).stdout
}

/** Builds an OCI image layout with umoci, one `umoci repack` per layer step. */
export function buildOciImage(opts: BuildOptions): OciLayout {
  requireTool('umoci', 'umoci')
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-oci-'))
  const dir = path.join(work, 'layout')
  const image = `${dir}:latest`
  run('umoci', ['init', '--layout', dir])
  run('umoci', ['new', '--image', image])
  opts.layers.forEach((step, i) => {
    const bundle = path.join(work, `bundle${i}`)
    run('umoci', ['unpack', '--image', image, bundle])
    step(path.join(bundle, 'rootfs'))
    run('umoci', ['repack', '--image', image, bundle])
    fs.rmSync(bundle, { recursive: true, force: true })
  })
  const cfg: string[] = []
  if (opts.cmd) cfg.push('--clear=config.cmd', ...opts.cmd.flatMap((c) => ['--config.cmd', c]))
  if (opts.entrypoint) cfg.push('--clear=config.entrypoint', ...opts.entrypoint.flatMap((c) => ['--config.entrypoint', c]))
  for (const e of opts.env ?? []) cfg.push('--config.env', e)
  if (opts.workdir) cfg.push('--config.workingdir', opts.workdir)
  if (opts.platform) cfg.push('--os', opts.platform.os, '--architecture', opts.platform.architecture)
  if (cfg.length) run('umoci', ['config', '--image', image, ...cfg])
  run('umoci', ['gc', '--layout', dir])
  return { dir, tag: 'latest', remove: () => fs.rmSync(work, { recursive: true, force: true }) }
}

/**
 * Copies an OCI layout's image into the registry with skopeo (TLS unverified); returns the manifest digest
 * skopeo reports. `certDir` holds a client certificate for it (Docker's certs.d naming: x.cert, x.key).
 */
export async function skopeoPush(layout: OciLayout, dest: string, creds?: string, certDir?: string): Promise<string> {
  requireTool('skopeo', 'skopeo')
  const digestFile = path.join(path.dirname(layout.dir), 'digest')
  const auth = [...(creds ? ['--dest-creds', creds] : []), ...(certDir ? ['--dest-cert-dir', certDir] : [])]
  await runAsync('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', ...auth, '--digestfile', digestFile, `oci:${layout.dir}:${layout.tag}`, `docker://${dest}`])
  return fs.readFileSync(digestFile, 'utf8').trim()
}

/** `skopeo inspect --raw` of a registry image: the manifest as the registry serves it. */
export async function skopeoRaw(ref: string, creds?: string): Promise<string> {
  requireTool('skopeo', 'skopeo')
  return runAsync('skopeo', ['inspect', '--raw', '--tls-verify=false', ...(creds ? ['--creds', creds] : []), `docker://${ref}`])
}

/** `skopeo inspect` of a registry image (JSON: Digest, Layers, Env, Architecture...). */
export async function skopeoInspect(ref: string, creds?: string): Promise<{ Digest: string; Layers: string[]; Env?: string[]; Architecture: string; Os: string }> {
  requireTool('skopeo', 'skopeo')
  return JSON.parse(await runAsync('skopeo', ['inspect', '--tls-verify=false', ...(creds ? ['--creds', creds] : []), `docker://${ref}`]))
}

/** Writes `content` to `rel` under the rootfs, making parents. */
export function writeFile(rootfs: string, rel: string, content: string | Buffer, mode = 0o644): void {
  const p = path.join(rootfs, rel)
  fs.mkdirSync(path.dirname(p), { recursive: true })
  fs.writeFileSync(p, content, { mode })
}
