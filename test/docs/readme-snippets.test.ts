/**
 * The README as a newcomer reads it: its TypeScript snippets, written into a
 * fresh project set up as the README says (`tsc --init`, then its two edits),
 * must compile under strict against the built package; the quickstart then runs
 * for real on this Node, as root, against a runtime root of the test's own.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { repoRoot, requireFreshBuild } from '../tools/fresh-build'

const tsc = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc')

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

/** A project as the README sets it up: the package (this checkout's build) and its type packages in node_modules. */
function newProject(dir: string): void {
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'readme-trial', private: true }))
  const modules = path.join(dir, 'node_modules')
  fs.mkdirSync(path.join(modules, '@types'), { recursive: true })
  fs.symlinkSync(repoRoot, path.join(modules, 'minicontainer'))
  for (const types of ['node', 'jest']) fs.symlinkSync(path.join(repoRoot, 'node_modules', '@types', types), path.join(modules, '@types', types))
  execFileSync(process.execPath, [tsc, '--init'], { cwd: dir, stdio: 'ignore' })
  // The README's two edits of what `tsc --init` wrote.
  const configFile = path.join(dir, 'tsconfig.json')
  const config = fs.readFileSync(configFile, 'utf8')
  const edited = config.replace('"types": [],', '"types": ["node", "jest"],').replace('"verbatimModuleSyntax": true,', '"verbatimModuleSyntax": false,')
  expect(edited.match(/"types": \["node", "jest"\]|"verbatimModuleSyntax": false/g)).toHaveLength(2)
  expect(config).toMatch(/"strict": true/)
  fs.writeFileSync(configFile, edited)
}

describe('the README', () => {
  let dir: string
  let root: string
  beforeAll(() => {
    requireFreshBuild('dist/index.d.ts')
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-readme-'))
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-readme-root-'))
    newProject(dir)
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
    const snippets = readmeBlocks().filter((b) => b.lang === 'ts')
    expect(snippets.length).toBeGreaterThan(10)
    snippets.forEach(({ code }, i) => {
      const file = path.join(dir, fileNameOf(code, i))
      fs.mkdirSync(path.dirname(file), { recursive: true })
      fs.writeFileSync(file, code)
    })
    const result = spawnSync(process.execPath, [tsc, '-p', '.'], { cwd: dir, encoding: 'utf8' })
    expect(result.stdout + result.stderr).toBe('')
    expect(result.status).toBe(0)
  }, 120_000)

  test('the quickstart runs on this Node as the README says', () => {
    const quickstart = path.join(dir, 'quickstart.mjs')
    expect(fs.existsSync(quickstart)).toBe(true) // compiled by the test before
    const result = spawnSync(process.execPath, [quickstart], { cwd: dir, encoding: 'utf8', env: { ...process.env, MINICONTAINER_ROOT: root }, timeout: 60_000 })
    expect(result.stderr).toBe('')
    expect(result.stdout).toMatch(/^hi from box\nexit code 3\nPRETTY_NAME=.+\n$/)
    expect(result.status).toBe(0)
    // It cleaned up after itself: no container record left in its root.
    expect(fs.readdirSync(path.join(root, 'containers')).filter((f) => !f.startsWith('.'))).toEqual([])
  }, 90_000)
})
