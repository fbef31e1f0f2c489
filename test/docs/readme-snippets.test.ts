/**
 * The README as a newcomer reads it: its TypeScript snippets, written into a
 * fresh project set up as the README says (`tsc --init`, then its two edits),
 * must compile under strict against the built package; the quickstart then runs
 * for real on this Node, as root, against a runtime root of the test's own,
 * and so does the jest setup (jest and ts-jest as the README installs them),
 * against stand-ins for the official images it names, which cannot be pulled
 * here (Debian's redis-server and nginx, committed from the host image).
 */
import { spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Image, Runtime } from '../../lib'
import { requireFreshBuild } from '../tools/fresh-build'
import { readmeJestProject, tsc } from '../tools/readme-project'
import { repoRoot } from '../tools/repo-root'
import { hostStandIn } from '../tools/stand-in-image'

/** One fenced block of the README: its language and its text. */
interface Block { lang: string; code: string }

function readmeBlocks(): Block[] {
  const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8')
  return [...readme.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1] ?? '', code: m[2] ?? '' }))
}

/** The file a snippet names on its first line (`// test/global-setup.ts`), else an ES module of its own. */
function fileNameOf(code: string, index: number): string {
  const named = /^\/\/ ([\w./-]+\.m?ts)\n/.exec(code)
  return named?.[1] ?? `snippets/snippet-${index}.mts`
}

/** A project as the README sets it up: the package (this checkout's build) beside its jest setup. */
function newProject(dir: string): void {
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'readme-trial', private: true }))
  readmeJestProject(dir)
  fs.symlinkSync(repoRoot, path.join(dir, 'node_modules', 'minicontainer'))
}

describe('the README', () => {
  let dir: string
  let root: string
  beforeAll(() => {
    requireFreshBuild('dist/index.d.ts')
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-readme-'))
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-readme-root-'))
    newProject(dir)
    readmeBlocks().filter((b) => b.lang === 'ts').forEach(({ code }, i) => {
      const file = path.join(dir, fileNameOf(code, i))
      fs.mkdirSync(path.dirname(file), { recursive: true })
      fs.writeFileSync(file, code)
    })
  })
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true })
    fs.rmSync(root, { recursive: true, force: true })
  })

  test('opens with the install line, and its jest setup is complete', () => {
    const blocks = readmeBlocks()
    expect(blocks[0]).toEqual({ lang: 'sh', code: 'npm i -D minicontainer\n' })
    const names = blocks.filter((b) => b.lang === 'ts').map((b, i) => fileNameOf(b.code, i))
    expect(names.slice(0, 4)).toEqual(['quickstart.mts', 'test/global-setup.ts', 'test/services.test.ts', 'test/global-teardown.ts'])
    expect(blocks.some((b) => b.lang === 'js' && b.code.includes("globalSetup: './test/global-setup.ts'"))).toBe(true)
  })

  test('every TypeScript snippet compiles under tsc --init defaults with strict', () => {
    expect(readmeBlocks().filter((b) => b.lang === 'ts').length).toBeGreaterThan(10)
    const result = spawnSync(process.execPath, [tsc, '-p', '.'], { cwd: dir, encoding: 'utf8' })
    expect(result.stdout + result.stderr).toBe('')
    expect(result.status).toBe(0)
  }, 120_000)

  test('the quickstart runs on this Node as the README says', () => {
    const quickstart = path.join(dir, 'quickstart.mjs')
    expect(fs.existsSync(quickstart)).toBe(true) // compiled by the test before (tsc -p .)
    const result = spawnSync(process.execPath, [quickstart], { cwd: dir, encoding: 'utf8', env: { ...process.env, MINICONTAINER_ROOT: root }, timeout: 60_000 })
    expect(result.stderr).toBe('')
    expect(result.stdout).toMatch(/^hi from box\nexit code 3\nPRETTY_NAME=.+\n$/)
    expect(result.status).toBe(0)
    // It cleaned up after itself: no container record left in its root.
    expect(fs.readdirSync(path.join(root, 'containers')).filter((f) => !f.startsWith('.'))).toEqual([])
  }, 90_000)

  test('the jest setup runs as written: globalSetup starts both services, the tests pass, globalTeardown leaves nothing', async () => {
    const jestConfig = readmeBlocks().find((b) => b.lang === 'js' && b.code.includes('globalSetup'))
    fs.writeFileSync(path.join(dir, 'jest.config.js'), jestConfig?.code ?? '')
    const servicesRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-readme-jest-'))
    const runtime = new Runtime({ root: servicesRoot })
    try {
      await Image.fromHost({ runtime, ref: 'host' })
      await hostStandIn(runtime, 'redis:7-alpine', { cmd: ['redis-server', '--protected-mode', 'no'] })
      const conf = path.join(servicesRoot, 'nginx.conf')
      fs.writeFileSync(conf, 'error_log stderr;\npid /tmp/nginx.pid;\nevents {}\nhttp { access_log off; client_body_temp_path /tmp/body; proxy_temp_path /tmp/proxy; fastcgi_temp_path /tmp/fastcgi; uwsgi_temp_path /tmp/uwsgi; scgi_temp_path /tmp/scgi; server { listen 80; root /usr/share/nginx/html; } }\n')
      fs.mkdirSync(path.join(servicesRoot, 'etc-nginx'))
      fs.copyFileSync(conf, path.join(servicesRoot, 'etc-nginx', 'nginx.conf'))
      await hostStandIn(runtime, 'nginx:1.27-alpine', { cmd: ['nginx', '-g', 'daemon off;'] }, [[path.join(servicesRoot, 'etc-nginx'), '/etc/nginx']])
      const jest = spawnSync(process.execPath, [path.join(dir, 'node_modules', 'jest', 'bin', 'jest.js')], { cwd: dir, encoding: 'utf8', env: { ...process.env, MINICONTAINER_ROOT: servicesRoot }, timeout: 120_000 })
      expect(jest.stderr).toMatch(/Tests:\s+2 passed, 2 total/)
      expect(jest.status).toBe(0)
      expect(fs.readdirSync(path.join(servicesRoot, 'containers')).filter((f) => !f.startsWith('.'))).toEqual([])
    } finally {
      await runtime.close()
      fs.rmSync(servicesRoot, { recursive: true, force: true })
    }
  }, 180_000)
})
