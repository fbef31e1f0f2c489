/**
 * Push and pull between Docker and minicontainer through one registry.
 * Debian's docker-registry runs inside a private engine's network namespace
 * on that namespace's 127.0.0.1 (a loopback registry: Docker speaks plain
 * http to it without insecure-registries, and no traffic leaves the
 * namespace), and minicontainer runs in the same namespace (a netns agent).
 *
 * An image built and pushed by Docker pulls and runs here with the same
 * output, id (config digest), diffIDs and manifest digest; an image committed
 * here on top of it and pushed from here pulls and runs there likewise, its
 * base layers mounted from Docker's repository on the registry and "Already
 * exists" in Docker's pull.
 */
import { useDockerFixture } from '../tools/docker-engine'
import { startNetnsAgent, type NetnsAgent } from '../tools/netns-agent'

const dockerfile = `FROM mc-bb:reg-base
RUN mkdir /opt && mkdir /opt/app && echo one > /opt/app/one
RUN echo two > /opt/app/two && rm /opt/app/one
ENV WHO=docker
CMD ["sh", "-c", "echo $WHO; ls /opt/app"]
`
const fx = useDockerFixture({ base: 'mc-bb:reg-base', dockerfile, tag: 'mc-reg:1' })
let agent: NetnsAgent
let host: string

beforeAll(async () => {
  agent = await startNetnsAgent(fx.engine.netns)
  host = await agent.eval<string>(`
    ctx.registry = await require('./registry').startRegistry()
    ctx.rt = helpers.tempRuntime()
    return ctx.registry.host`)
}, 60000)
afterAll(async () => {
  await agent?.eval('await ctx.registry?.stop(); if (ctx.rt) await helpers.destroyRuntime(ctx.rt)')
  await agent?.stop()
}, 60000)

/** What minicontainer (in the agent) reports about an image and prints running it. */
interface Here {
  id: string
  repoDigests: string[]
  diffIds: string[]
  out: string
  pushed?: { digest: string; statuses: Record<string, string[]> }
}

/** Agent code: inspects `ref` in the agent's runtime and runs it (network none), as `Here`. */
const describeHere = (ref: string) => `
  const img = await mc.Image.get(${JSON.stringify(ref)}, { runtime: ctx.rt })
  const info = await img.inspect()
  const c = await mc.run(${JSON.stringify(ref)}, undefined, { runtime: ctx.rt, network: 'none' })
  const exit = await c.wait()
  const out = await helpers.text(c.logs())
  await c.remove({ volumes: true })
  if (exit.exitCode !== 0) throw new Error('exited ' + exit.exitCode + ': ' + out)
  return { id: img.id, repoDigests: info.repoDigests, diffIds: info.rootFS.diffIds, out }`

/** Docker's view of an image: id, layers, repo digests, and its output when run. */
async function dockerSide(ref: string) {
  const info = JSON.parse(await fx.engine.ok(['inspect', '-f', '{{json .}}', ref]))
  const out = await fx.engine.ok(['run', '--rm', '--network', 'none', ref])
  return { id: info.Id as string, diffIds: info.RootFS.Layers as string[], repoDigests: info.RepoDigests as string[], out: `${out}\n` }
}

const digestPart = (repoDigest: string) => repoDigest.slice(repoDigest.indexOf('@') + 1)

test('an image pushed by docker push pulls and runs here with the same output, id, diffIDs and digest', async () => {
  const ref = `${host}/team/from-docker:1`
  await fx.engine.ok(['tag', 'mc-reg:1', ref])
  await fx.engine.ok(['push', ref], { timeoutMs: 120000 })
  const there = await dockerSide(ref)
  expect(there.out).toBe('docker\ntwo\n')
  const here = await agent.eval<Here>(`await mc.Image.pull(${JSON.stringify(ref)}, { runtime: ctx.rt }); ${describeHere(ref)}`, 120000)
  expect(here.out).toBe(there.out)
  expect(here.id).toBe(there.id)
  expect(here.diffIds).toEqual(there.diffIds)
  expect(here.repoDigests.map(digestPart)).toEqual(there.repoDigests.map(digestPart))
}, 180000)

test('an image pushed from here pulls and runs in Docker with the same output, id, diffIDs and digest; base layers are shared', async () => {
  const base = `${host}/team/from-docker:1`
  const ref = `${host}/team/from-here:1`
  const here = await agent.eval<Here>(
    `
    if (!(await mc.Image.list({ runtime: ctx.rt })).some((i) => i.refs.includes(${JSON.stringify(base)}))) await mc.Image.pull(${JSON.stringify(base)}, { runtime: ctx.rt })
    const made = await mc.run(${JSON.stringify(base)}, ['sh', '-c', 'echo three > /opt/app/three && rm /opt/app/two'], { runtime: ctx.rt, network: 'none' })
    await made.wait()
    const committed = await made.commit({ ref: ${JSON.stringify(ref)}, changes: { env: ['WHO=minicontainer'], cmd: ['sh', '-c', 'echo $WHO; ls /opt/app'] } })
    await made.remove()
    const statuses = {}
    const pushed = await committed.push(${JSON.stringify(ref)}, { onProgress: (e) => { if (e.status !== 'waiting') (statuses[e.digest] ??= []).push(e.status) } })
    const described = await (async () => { ${describeHere(ref)} })()
    return { ...described, pushed: { digest: pushed.digest, statuses } }`,
    120000,
  )
  expect(here.out).toBe('minicontainer\nthree\n')
  // The two layers Docker pushed are mounted from its repository, only the new one is uploaded.
  const final = Object.values(here.pushed!.statuses).map((s) => s[s.length - 1])
  expect(final.sort()).toEqual(['done', 'mounted', 'mounted', 'mounted'])

  const pulled = await fx.engine.ok(['pull', ref], { timeoutMs: 120000 })
  expect(pulled.match(/Already exists/g)?.length).toBe(3)
  const there = await dockerSide(ref)
  expect(there.out).toBe(here.out)
  expect(there.id).toBe(here.id)
  expect(there.diffIds).toEqual(here.diffIds)
  expect(there.repoDigests.map(digestPart)).toContain(here.pushed!.digest)
}, 180000)
