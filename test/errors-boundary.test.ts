/**
 * The README's promise, checked over the whole public surface: every
 * function, constructor, static and prototype method and getter exported by
 * lib/index.ts fails only with a MiniContainerError. The public members are
 * read from the type checker (what the .d.ts shows, privates and @internal
 * members left out), so a new export or method is walked without touching
 * this file; each is called in ways that make the inner code throw a raw
 * error (an argument whose every property access throws a plain Error, a
 * Symbol where a string is expected, a method torn off its object), and
 * must either succeed or fail with a MiniContainerError.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Readable } from 'node:stream'
import * as ts from 'typescript'
import * as api from '../lib'
import { Image, MiniContainerError, Network, Runtime, Volume } from '../lib'
import { busyboxImage, destroyRuntime, tempRuntime } from './helpers'

interface PublicMember {
  name: string
  isStatic: boolean
  kind: 'method' | 'getter'
}

function isInternal(decl: ts.Declaration): boolean {
  return ts.getJSDocTags(decl).some((t) => t.tagName.text === 'internal')
}

function isPublic(decl: ts.Declaration): boolean {
  const flags = ts.getCombinedModifierFlags(decl)
  return !(flags & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) && !isInternal(decl) && !(ts.isClassElement(decl) && decl.name && ts.isPrivateIdentifier(decl.name))
}

function memberName(decl: ts.ClassElement, checker: ts.TypeChecker): string | undefined {
  if (!decl.name) return undefined
  if (ts.isComputedPropertyName(decl.name)) return decl.name.expression.getText().replace(/^Symbol\./, '@@')
  return checker.getSymbolAtLocation(decl.name)?.name
}

/** The public methods and getters of each class exported by lib/index.ts, as the type checker sees them. */
function publicMembers(): Map<string, PublicMember[]> {
  const index = path.join(__dirname, '../lib/index.ts')
  const program = ts.createProgram([index], { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, strict: true, noEmit: true })
  const checker = program.getTypeChecker()
  const moduleSymbol = checker.getSymbolAtLocation(program.getSourceFile(index)!)!
  const out = new Map<string, PublicMember[]>()
  for (const exported of checker.getExportsOfModule(moduleSymbol)) {
    const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported
    const decl = symbol.declarations?.find(ts.isClassDeclaration)
    if (!decl) continue
    const members: PublicMember[] = []
    const ctor = decl.members.find(ts.isConstructorDeclaration)
    if (!ctor || isPublic(ctor)) members.push({ name: 'constructor', isStatic: true, kind: 'method' })
    for (const m of decl.members) {
      if (!(ts.isMethodDeclaration(m) || ts.isGetAccessorDeclaration(m)) || !isPublic(m)) continue
      const name = memberName(m, checker)
      if (!name) continue
      const isStatic = !!(ts.getCombinedModifierFlags(m) & ts.ModifierFlags.Static)
      if (!members.some((x) => x.name === name && x.isStatic === isStatic)) members.push({ name, isStatic, kind: ts.isMethodDeclaration(m) ? 'method' : 'getter' })
    }
    out.set(exported.name, members)
  }
  return out
}

/** An object any use of which (property access, `in`, keys, instanceof, a call) throws a plain Error. */
const traps = ['get', 'has', 'ownKeys', 'getPrototypeOf', 'getOwnPropertyDescriptor', 'apply'] as const
const hostile: object = new Proxy(
  function () {},
  Object.fromEntries(
    traps.map((trap) => [
      trap,
      () => {
        throw new Error(`hostile ${trap}`)
      },
    ]),
  ),
)

const argumentSets: Array<[string, unknown[]]> = [
  ['hostile objects', [hostile, hostile, hostile]],
  ['symbols', [Symbol('a'), Symbol('b'), Symbol('c')]],
]

/** Lets results that fail later fail: awaits promises, takes an async iterator's first item, reads a stream until its first error. */
async function settle(result: unknown): Promise<void> {
  if (result instanceof Readable) {
    await new Promise<void>((resolve, reject) => {
      result.once('error', reject)
      result.once('close', resolve)
      result.resume()
      setTimeout(() => result.destroy(), 2000)
    })
    return
  }
  if (result && typeof (result as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function' && typeof (result as { then?: unknown }).then !== 'function') {
    const it = (result as AsyncIterable<unknown>)[Symbol.asyncIterator]()
    try {
      await Promise.race([it.next(), new Promise((r) => setTimeout(r, 2000))])
    } finally {
      await it.return?.()
    }
    return
  }
  await result
}

/** What leaked: a description per call that failed with something other than a MiniContainerError. */
const leaks: string[] = []

async function expectCoded(what: string, call: () => unknown): Promise<void> {
  try {
    await settle(call())
  } catch (err) {
    if (!(err instanceof MiniContainerError)) leaks.push(`${what}: ${(err as Error)?.constructor?.name} ${String((err as Error)?.message ?? err).slice(0, 80)}`)
  }
}

function keyOf(name: string): string | symbol {
  return name.startsWith('@@') ? Symbol[name.slice(2) as 'asyncDispose'] : name
}

let runtime: Runtime
let walkedRuntime: Runtime | undefined
let defaultRoot: string
const previousRootEnv = process.env.MINICONTAINER_ROOT
// Classes whose instances are made here; the order in which they are walked ends with what closes things.
const instances = new Map<string, () => Promise<object>>()

beforeAll(async () => {
  // Runtime.default() is a public method too: it must not touch the host's /var/lib/minicontainer.
  defaultRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-boundary-default-'))
  process.env.MINICONTAINER_ROOT = defaultRoot
  runtime = tempRuntime('mc-boundary-')
  await busyboxImage(runtime)
  const unique = `bnd${process.pid}`
  instances.set('Reference', async () => api.parseReference('bb'))
  instances.set('Image', async () => Image.get('bb', { runtime }))
  instances.set('Volume', async () => Volume.create(`${unique}v`, { runtime }))
  instances.set('Network', async () => Network.create(`${unique}n`, { runtime }))
  instances.set('Container', async () => api.run('bb', ['sleep', '30'], { runtime, name: `${unique}c` }))
  // Compose has only statics (walked above); its environments are walked on a one-service project.
  instances.set('Compose', async () => Object.create(api.Compose.prototype) as object)
  // The Image walk removed bb by then: imported again, so that nothing is pulled.
  instances.set('ComposeEnvironment', async () => (await busyboxImage(runtime), api.Compose.up({ yaml: 'services:\n  s:\n    image: bb\n    command: [sleep, "30"]\n', workdir: os.tmpdir() }, { runtime, projectName: `${unique}p` })))
  instances.set('Runtime', async () => (walkedRuntime = tempRuntime('mc-boundary-walked-')))
})

afterAll(async () => {
  for (const n of await Network.list({ runtime })) await n.remove().catch(() => {})
  await destroyRuntime(runtime)
  if (walkedRuntime) await destroyRuntime(walkedRuntime)
  // Whatever the walk made of Runtime.default() and of the runtimes the Runtime walk used.
  await Runtime.default().close()
  if (previousRootEnv === undefined) delete process.env.MINICONTAINER_ROOT
  else process.env.MINICONTAINER_ROOT = previousRootEnv
  fs.rmSync(defaultRoot, { recursive: true, force: true })
})

function isErrorClass(value: unknown): boolean {
  return typeof value === 'function' && (value === MiniContainerError || value.prototype instanceof MiniContainerError)
}

async function walkClass(name: string, cls: new (...args: unknown[]) => object, members: PublicMember[]): Promise<void> {
  const statics = cls as unknown as Record<string | symbol, (...args: unknown[]) => unknown>
  for (const [label, args] of argumentSets) {
    if (members.some((x) => x.name === 'constructor')) await expectCoded(`new ${name}(${label})`, () => new cls(...args))
    for (const m of members.filter((x) => x.isStatic && x.kind === 'method' && x.name !== 'constructor')) await expectCoded(`${name}.${m.name}(${label})`, () => statics[keyOf(m.name)](...args))
  }
  const make = instances.get(name)
  if (!make) throw new Error(`no instance of the exported class ${name}: add one to this test's instances`)
  const instance = (await make()) as Record<string | symbol, unknown>
  const proto = cls.prototype as object
  for (const m of members.filter((x) => !x.isStatic)) {
    const key = keyOf(m.name)
    if (m.kind === 'getter') {
      const getter = Object.getOwnPropertyDescriptor(proto, key)!.get!
      await expectCoded(`${name}#${m.name} on its object`, () => instance[key])
      await expectCoded(`${name}#${m.name} torn off`, () => getter.call(undefined))
      await expectCoded(`${name}#${m.name} on a hostile object`, () => getter.call(hostile))
      continue
    }
    const method = instance[key] as (...args: unknown[]) => unknown
    await expectCoded(`${name}#${m.name} torn off`, () => method.call(undefined))
    // The disposers take no argument: called on the object, they end it; last, below.
    if (typeof key === 'symbol') continue
    for (const [label, args] of argumentSets) await expectCoded(`${name}#${m.name}(${label})`, () => method.apply(instance, args))
  }
  for (const m of members.filter((x) => !x.isStatic && x.kind === 'method' && x.name.startsWith('@@')))
    await expectCoded(`${name}#${m.name}()`, () => (instance[keyOf(m.name)] as () => unknown)())
}

test('every public function, constructor, method and getter fails only with MiniContainerErrors', async () => {
  const members = publicMembers()
  const exported = Object.entries(api).sort(([a], [b]) => (a === 'Runtime' ? 1 : b === 'Runtime' ? -1 : 0))
  const walked: string[] = []
  for (const [name, value] of exported) {
    if (isErrorClass(value)) continue // see the test below
    if (typeof value === 'function' && members.has(name)) {
      await walkClass(name, value as new (...args: unknown[]) => object, members.get(name)!)
    } else if (typeof value === 'function') {
      for (const [label, args] of argumentSets) await expectCoded(`${name}(${label})`, () => (value as (...a: unknown[]) => unknown)(...args))
    } else if (value && typeof value === 'object' && !Array.isArray(value)) {
      for (const [key, fn] of Object.entries(value)) {
        if (typeof fn !== 'function') continue
        for (const [label, args] of argumentSets) await expectCoded(`${name}.${key}(${label})`, () => (fn as (...a: unknown[]) => unknown).apply(value, args))
      }
    } else {
      continue // data (defaultCapabilities)
    }
    walked.push(name)
  }
  expect(walked).toEqual(expect.arrayContaining(['Runtime', 'Container', 'Image', 'Volume', 'Network', 'Reference', 'run', 'parseReference', 'Wait']))
  expect(leaks).toEqual([])
}, 240_000)

test('every error class is a MiniContainerError and every code has a class', () => {
  const source = fs.readFileSync(path.join(__dirname, '../lib/errors.ts'), 'utf8')
  const union = /export type ErrorCode =([^]*?)\n\n/.exec(source)![1]
  const codes = [...union.matchAll(/'([A-Z]+)'/g)].map((m) => m[1])
  const seen = new Set<string>()
  for (const [name, value] of Object.entries(api)) {
    if (!isErrorClass(value) || value === MiniContainerError) continue
    // Error constructors take the details of an error the library found; they are exported for
    // instanceof and are not entry points (a Symbol there is a TypeError, as in any JavaScript Error).
    const cls = value as unknown as { prototype: MiniContainerError; name: string }
    expect(cls.prototype).toBeInstanceOf(MiniContainerError)
    expect(name).toBe(cls.name)
    const sample = Reflect.construct(cls as unknown as new (...a: unknown[]) => MiniContainerError, sampleArguments(name))
    seen.add(sample.code)
  }
  expect(codes.filter((c) => !seen.has(c))).toEqual([])
})

test('the library builds no MiniContainerError by hand: each code through its class, so instanceof finds it', () => {
  const adHoc: string[] = []
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name)
      if (entry.isDirectory()) walk(file)
      else if (file.endsWith('.ts'))
        fs.readFileSync(file, 'utf8')
          .split('\n')
          .forEach((line, i) => {
            if (/new MiniContainerError\(/.test(line) && !/^\s*(\*|\/\/)/.test(line)) adHoc.push(`${path.relative(path.join(__dirname, '..'), file)}:${i + 1}`)
          })
    }
  }
  walk(path.join(__dirname, '../lib'))
  expect(adHoc).toEqual([])
})

/** Arguments that build each error class (strings, with an array or a number where the class takes one). */
function sampleArguments(name: string): unknown[] {
  const waited = { containerId: 'f'.repeat(64), containerName: 'x', awaited: 'x', elapsedMs: 1, logs: [] }
  if (name === 'WaitError') return ['ETIMEOUT', 'x', waited]
  if (/Timeout|Exited|Unhealthy/.test(name)) return [{ ...waited, exitCode: 1 }, 'x']
  if (name === 'NetworkInUseError' || name === 'VolumeInUseError' || name === 'RootInUseError') return ['x', ['x']]
  if (name === 'IdRangeError') return ['/x', { kind: 'uid', id: 70000, max: 65536 }, 'x']
  if (name === 'PortNotPublishedError') return ['x', '6379/tcp', ['80/tcp -> 0.0.0.0:49153']]
  if (name === 'PlatformNotFoundError') return ['x', 'x', ['x']]
  if (name === 'AmbiguousReferenceError') return ['x', 2]
  if (name === 'PortPrivilegedError') return ['x', 1024]
  if (name === 'BuildError') return ['0', 3, 'RUN exit 3', 3, ['x'], 'x']
  if (name === 'DockerfileError' || name === 'UnsupportedDockerfileFeatureError') return [2, 'x']
  return ['EINVALID', 'x', 'x', 'x']
}
