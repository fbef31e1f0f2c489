/**
 * A kernel older than minicontainer needs, for real: setarch's UNAME26
 * personality makes this kernel report a 2.6 release to the process, as an
 * old host would. `new Runtime()` refuses it with EUNSUPPORTED naming the
 * feature and the release that has it, before making anything.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { spawnSync } from 'node:child_process'
import { nodeScript } from '../tools/node-child'

test('new Runtime() on a kernel older than 5.3 is EUNSUPPORTED naming pidfd_open and Linux 5.3, and makes no root', () => {
  const root = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mc-oldkernel-')), 'root')
  const body = `try { new (lib().Runtime)({ root: ${JSON.stringify(root)} }); console.log('made') } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message, release: require('node:os').release() })) }`
  const r = spawnSync('setarch', [os.arch() === 'arm64' ? 'aarch64' : 'x86_64', '--uname-2.6', process.execPath, '-e', nodeScript(body)], { encoding: 'utf8', timeout: 60_000 })
  expect(r.stderr).toBe('')
  const out = JSON.parse(r.stdout.trim())
  expect(out.release).toMatch(/^2\.6\./)
  expect(out.code).toBe('EUNSUPPORTED')
  expect(out.message).toMatch(/^pidfd_open .* needs Linux 5\.3 or later, and this host runs 2\.6\./)
  expect(fs.existsSync(root)).toBe(false)
  fs.rmSync(path.dirname(root), { recursive: true, force: true })
})
