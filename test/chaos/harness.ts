/**
 * Runs one of the bench/ harnesses (chaos.js, soak.js) as a child process
 * against ../../dist and returns its exit status, output and the JSON
 * figures it printed after `marker`.
 */
import { execFile } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'

const bench = path.resolve(__dirname, '../../bench')

/** The harness's exit code, its stdout, and the figures of every line starting with `marker`. */
export interface HarnessRun<T> {
  code: number
  stdout: string
  figures: T[]
}

/** Runs `node [nodeFlags] bench/<script> args`, bounded by `timeoutMs`. */
export function runHarness<T>(script: string, args: string[], marker: string, timeoutMs: number, nodeFlags: string[] = []): Promise<HarnessRun<T>> {
  if (!fs.existsSync(path.resolve(bench, '../dist/index.js'))) throw new Error('dist/ is missing: npm run build first')
  return new Promise((resolve) => {
    execFile(process.execPath, [...nodeFlags, path.join(bench, script), ...args], { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0
      const figures = String(stdout).split('\n').filter((l) => l.startsWith(marker + ' ')).map((l) => JSON.parse(l.slice(marker.length + 1)) as T)
      resolve({ code, stdout: `${stdout}\n${stderr}`, figures })
    })
  })
}
