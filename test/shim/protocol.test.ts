/**
 * The protocol between the library and the shim (issue 18 point 3), against
 * the real shim: a spec with every field set comes back from `mc-shim
 * dump-spec` exactly as the library meant it, and a shim built with another
 * protocol version refuses the spec, which a user's run() reports as one
 * ENATIVE error naming both versions and the fix.
 */
import { execFileSync, spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import type { Duplex } from 'node:stream'
import { SHIM_PROTOCOL_VERSION } from '../../lib/shim/protocol'
import { encodeExecSpec, encodeRunSpec, mountFallbacks } from '../../lib/shim/spec'
import { nativeDir } from '../../lib/sys/native-dir'
import { decodedExecSpec, decodedRunSpec, fullExecSpec, fullRunSpec } from './full-spec'
import { runNodeSync } from '../tools/node-child'

const nativeSrc = path.resolve(__dirname, '../../native')

/** How `mc-shim dump-spec` ended: its stdout (the JSON), what it said on fd 3, its exit code. */
interface Dump {
  stdout: string
  reports: string
  code: number | null
}

/** Sends `spec` to `<shim> dump-spec` on fd 3 and collects what it prints and says. */
async function dumpSpec(spec: Buffer, shim = path.join(nativeDir, 'mc-shim')): Promise<Dump> {
  const child = spawn(shim, ['dump-spec'], { stdio: ['ignore', 'pipe', 'inherit', 'pipe'] })
  const control = child.stdio[3] as Duplex
  let stdout = ''
  let reports = ''
  child.stdout!.on('data', (d) => (stdout += d))
  control.on('data', (d) => (reports += d))
  control.on('error', () => {}) // the shim may exit (refusing the spec) before reading all of it
  control.end(spec)
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  return { stdout, reports, code }
}

describe('a spec with every field set round-trips through the real shim', () => {
  afterEach(() => {
    mountFallbacks.force = false
  })

  test.each([
    ['stdout and stderr files', { stdout: '/var/log/out "1"', stderr: '/var/log/err\t2' }],
    ['a json-file log', { log: { path: '/var/lib/mc/c/json.log', maxSize: 10 * 1024 * 1024 * 1024, maxFiles: 5 } }],
  ])('run, output to %s', async (_, output) => {
    mountFallbacks.force = true
    const dump = await dumpSpec(encodeRunSpec(fullRunSpec(output)))
    expect(dump.reports).toBe('')
    expect(dump.code).toBe(0)
    expect(JSON.parse(dump.stdout)).toEqual(decodedRunSpec(output))
  })

  test('exec', async () => {
    const dump = await dumpSpec(encodeExecSpec(fullExecSpec))
    expect(dump.reports).toBe('')
    expect(dump.code).toBe(0)
    expect(JSON.parse(dump.stdout)).toEqual(decodedExecSpec)
  })
})

describe('a shim of another protocol version', () => {
  const other = SHIM_PROTOCOL_VERSION + 1
  let dir: string

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-shim-other-'))
    // The real sources, built as a shim of the next version would be (the library's own build is left alone).
    execFileSync('make', ['-s', '-C', nativeSrc, `OUT=${dir}`, `CPPFLAGS=-DMC_PROTOCOL_VERSION=${other}`], { stdio: 'pipe' })
  }, 120_000)

  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

  test('refuses the spec before reading any other key: one failure report, nothing decoded', async () => {
    const dump = await dumpSpec(encodeRunSpec(fullRunSpec({ stdout: '/o', stderr: '/e' })), path.join(dir, 'mc-shim'))
    expect(dump.reports).toBe(`E protocol\t${os.constants.errno.EPROTO}\tshim protocol ${other}, spec protocol ${SHIM_PROTOCOL_VERSION}\n`)
    expect(dump.stdout).toBe('')
    expect(dump.code).toBe(1)
  })

  test("run() with it fails with ENATIVE naming both versions and the fix, and leaves no container running", () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-proto-'))
    try {
      const r = runNodeSync(
        `const { Runtime, Image, Container, run } = lib()
        ;(async () => {
          const runtime = new Runtime({ root: ${JSON.stringify(root)} })
          await Image.fromHost({ runtime })
          const out = {}
          try {
            await run('host', ['true'], { runtime, network: 'none' })
          } catch (e) {
            Object.assign(out, { name: e.name, code: e.code, message: e.message, shimVersion: e.shimVersion, libraryVersion: e.libraryVersion })
          }
          out.containers = (await Container.list({ runtime, all: true })).map((c) => c.inspect().State.Status)
          await runtime.close()
          console.log(JSON.stringify(out))
        })()`,
        { env: { MINICONTAINER_NATIVE_DIR: dir } },
      )
      expect(r.stderr).toBe('')
      const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '')
      expect(out).toMatchObject({ name: 'ShimProtocolError', code: 'ENATIVE', shimVersion: other, libraryVersion: SHIM_PROTOCOL_VERSION })
      expect(out.message).toContain(`${path.join(dir, 'mc-shim')} speaks protocol ${other}, this library protocol ${SHIM_PROTOCOL_VERSION}`)
      expect(out.message).toContain('npm rebuild minicontainer')
      expect(out.message).toContain('node native/build.js')
      expect(out.containers.filter((s: string) => s === 'running')).toEqual([])
    } finally {
      fs.rmSync(root, { recursive: true, force: true })
    }
  })
})
