// Container configuration that had no test: entrypoint, labels, exec `privileged`, and name reclaim.
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Container, Image, run, type ImageConfig, type Runtime } from '../../lib'
import { busyboxRootfs, text, useRuntime } from '../helpers'

let runtime: Runtime

useRuntime((r) => (runtime = r), { hostImage: true, busybox: true })

/** Runs to the end and returns the output; the container is removed. */
async function output(image: string, cmd: string[] | undefined, opts: Parameters<typeof run>[2] = {}): Promise<string> {
  const c = await run(image, cmd, { runtime, ...opts })
  await c.wait()
  const out = await text(c.logs())
  await c.remove()
  return out
}

/** busybox with extra image config, imported under `ref`. */
async function configuredImage(ref: string, config: ImageConfig): Promise<Image> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-cfg-img-'))
  try {
    return await Image.import(busyboxRootfs(dir), { runtime, ref, config })
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

describe('entrypoint', () => {
  test("the image's entrypoint runs with the image's cmd, or with the cmd given", async () => {
    await configuredImage('ep:1', { entrypoint: ['echo', 'from-image'], cmd: ['default-cmd'] })
    expect(await output('ep:1', undefined)).toBe('from-image default-cmd\n')
    expect(await output('ep:1', ['given'])).toBe('from-image given\n')
  })

  test('the entrypoint option replaces the image entrypoint, and the cmd is appended to it', async () => {
    const c = await run('ep:1', ['a', 'b'], { runtime, entrypoint: ['echo', 'from-option'] })
    await c.wait()
    expect(await text(c.logs())).toBe('from-option a b\n')
    expect((await c.inspect()).config).toMatchObject({ entrypoint: ['echo', 'from-option'], cmd: ['a', 'b'] })
    await c.remove()
  })
})

test('labels: the image labels merged with the run labels (run wins), shown by inspect', async () => {
  await configuredImage('labelled:1', { cmd: ['true'], labels: { team: 'image', tier: 'image', 'org.example.from': 'image' } })
  const c = await Container.create('labelled:1', undefined, { runtime, labels: { tier: 'run', owner: 'run' } })
  expect((await c.inspect()).config.labels).toEqual({ team: 'image', tier: 'run', 'org.example.from': 'image', owner: 'run' })
  // The record on disk carries them: another lookup sees the same.
  expect((await (await Container.get(c.id, { runtime })).inspect()).config.labels).toEqual({ team: 'image', tier: 'run', 'org.example.from': 'image', owner: 'run' })
  await c.remove()
})

describe('exec privileged', () => {
  const capEff = async (c: Container, opts: { privileged?: boolean } = {}) =>
    BigInt('0x' + /CapEff:\s*([0-9a-f]+)/.exec((await c.exec(['cat', '/proc/self/status'], opts)).stdout)![1])
  const bits = (n: bigint) => n.toString(2).replace(/0/g, '').length
  // Every capability the kernel knows: this test process runs as root with the full set.
  const fullSet = BigInt('0x' + /CapBnd:\s*([0-9a-f]+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1])

  test("a privileged exec has the full capability set; a normal one Docker's 14", async () => {
    const c = await run('bb', ['sleep', '60'], { runtime, network: 'none' })
    expect(await capEff(c)).toBe(0xa80425fbn)
    expect(bits(await capEff(c))).toBe(14)
    expect(bits(fullSet)).toBeGreaterThan(14)
    expect(await capEff(c, { privileged: true })).toBe(fullSet)
    // And back: privileged is per exec, the container itself is unchanged.
    expect(await capEff(c)).toBe(0xa80425fbn)
    await c.remove({ force: true })
  })
})

describe('name reclaim', () => {
  test("a removed container's name is free again; a live one's is not", async () => {
    const a = await Container.create('bb', ['true'], { runtime, name: 'reclaim-me' })
    await expect(Container.create('bb', ['true'], { runtime, name: 'reclaim-me' })).rejects.toMatchObject({ code: 'ENAMECONFLICT' })
    await a.remove()
    const b = await Container.create('bb', ['true'], { runtime, name: 'reclaim-me' })
    expect(b.id).not.toBe(a.id)
    expect((await Container.get('reclaim-me', { runtime })).id).toBe(b.id)
    await b.remove()
  })

  test('a name left by a create that died is kept for a grace period, then reclaimed', async () => {
    // What a create that crashed between claiming the name and making its directory leaves behind.
    const deadId = 'dead'.padEnd(64, '0')
    const nameFile = path.join(runtime.root, 'names', 'crashed-create')
    fs.writeFileSync(nameFile, deadId)
    // Young: it may be a create in progress in another process.
    await expect(Container.create('bb', ['true'], { runtime, name: 'crashed-create' })).rejects.toMatchObject({ code: 'ENAMECONFLICT', message: expect.stringContaining(deadId.slice(0, 12)) })
    // Older than the grace period (10 s): free.
    const old = new Date(Date.now() - 11_000)
    fs.utimesSync(nameFile, old, old)
    const c = await Container.create('bb', ['true'], { runtime, name: 'crashed-create' })
    expect(fs.readFileSync(nameFile, 'utf8')).toBe(c.id)
    await c.remove()
    expect(fs.existsSync(nameFile)).toBe(false)
  })
})
