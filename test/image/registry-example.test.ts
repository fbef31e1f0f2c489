/**
 * examples/registry.js runs as a user would run it (node, the built
 * package): it starts docker-registry on loopback, pushes an imported image,
 * pulls it into a fresh runtime and runs it; afterwards nothing it made is
 * left: its temp dir (TMPDIR points into one of the test's) is gone and no
 * process of it runs.
 */
import { execFile } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { processesWith } from '../helpers'
import { requireTool } from '../tools/registry'

import { repoRoot } from '../tools/repo-root'

test('examples/registry.js: push, pull into a fresh runtime and run; nothing left behind', async () => {
  requireTool('docker-registry', 'docker-registry')
  expect(fs.existsSync(path.join(repoRoot, 'dist/index.js'))).toBe(true) // the example loads the built package (npm run build)
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-example-test-'))
  try {
    const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(process.execPath, ['examples/registry.js'], { cwd: repoRoot, env: { ...process.env, TMPDIR: tmp }, timeout: 120_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      ),
    )
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' })
    expect(stdout).toMatch(/^pushed 127\.0\.0\.1:\d+\/examples\/hello:1 \(sha256:[0-9a-f]{64}\)\npulled the same image id sha256:[0-9a-f]{12}\nhello from a pushed and pulled image\n$/)
    expect(fs.readdirSync(tmp)).toEqual([])
    expect(processesWith(tmp)).toEqual([])
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
}, 150_000)
