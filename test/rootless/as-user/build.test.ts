/**
 * Image.build rootless (issue 22), as the user: a stage whose RUN made
 * files of other ids inside (subordinate ids on the host), some in a 0700
 * directory of such an id, read by the next stage through `COPY --from`,
 * a `--mount=type=bind,from=` and a cache mount seeded `from=`; owners and
 * modes carry over as in a rootful build. A secret mount works too.
 */
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Image, Runtime, run } from '../../../lib'
import { busyboxRootfs, text } from '../../helpers'

jest.setTimeout(180_000)

let rt: Runtime
let work: string
beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-rl-build-'))
  rt = new Runtime({ root: path.join(work, 'root') })
  expect(rt.rootless).toBe(true)
  await Image.import(busyboxRootfs(fs.mkdtempSync(path.join(work, 'bb-'))), { runtime: rt, ref: 'bb:latest' })
})
afterAll(async () => {
  await rt.close({ removeRoot: true })
  fs.rmSync(work, { recursive: true, force: true })
})

/** Runs `sh -c script` in `ref` and returns its output. */
async function output(ref: string, script: string): Promise<string> {
  const c = await run(ref, ['sh', '-c', script], { runtime: rt, network: 'none' })
  expect(await c.wait()).toEqual({ exitCode: 0 })
  const out = await text(c.logs())
  await c.remove()
  return out
}

const makeHidden = 'mkdir -p /out/d && echo data > /out/d/f && chown -R 1000:50 /out && chmod 0700 /out/d && chmod 0640 /out/d/f'
const hiddenStat = 'stat -c "%n %u:%g %a" /out /out/d /out/d/f'
const hiddenSeen = '/out 1000:50 755\n/out/d 1000:50 700\n/out/d/f 1000:50 640\n'

test('a RUN (and a commit) leaving a directory only another id reads makes its layer, owners and modes kept; a secret mount works (as a file and as env=)', async () => {
  const ctx = fs.mkdtempSync(path.join(work, 'ctx-'))
  const secret = path.join(work, 'secret')
  fs.writeFileSync(secret, 'rootless-secret')
  const df = ['FROM bb', `RUN ${makeHidden}`, 'RUN --mount=type=secret,id=s,env=S --mount=type=secret,id=s sh -c \'md5sum < /run/secrets/s > /sec; echo "${#S}" >> /sec\'', ''].join('\n')
  const img = await Image.build(ctx, { runtime: rt, network: 'none', dockerfile: { content: df }, secrets: { s: { src: secret } } })
  expect(await output(img.id, `${hiddenStat}; cat /out/d/f /sec`)).toBe(`${hiddenSeen}data\n${createHash('md5').update('rootless-secret').digest('hex')}  -\n15\n`)

  const c = await run('bb', ['sh', '-c', makeHidden], { runtime: rt, network: 'none' })
  expect(await c.wait()).toEqual({ exitCode: 0 })
  const committed = await c.commit({ ref: 'hidden:1' })
  await c.remove()
  expect(await output(committed.id, `${hiddenStat}; cat /out/d/f`)).toBe(`${hiddenSeen}data\n`)
})

test("from= a stage's files of other ids: COPY --from copies them (root's, as BuildKit's COPY without --chown), a bind and a cache seed keep their owners", async () => {
  const ctx = fs.mkdtempSync(path.join(work, 'ctx-'))
  const df = [
    'FROM bb AS src',
    'RUN mkdir -p /out/d && echo data > /out/d/f && ln -s d/f /out/link && chown -R 1000:50 /out && chmod 0755 /out/d && chmod 0644 /out/d/f',
    'FROM bb',
    'COPY --from=src /out /copied',
    'RUN --mount=type=bind,from=src,source=/out,target=/m cat /m/d/f /m/link > /bound && stat -c "%u:%g %a" /m /m/d /m/d/f >> /bound',
    'RUN --mount=type=cache,target=/c,from=src,source=/out cat /c/d/f > /cached && stat -c "%u:%g %a" /c/d /c/d/f >> /cached',
    '',
  ].join('\n')
  const img = await Image.build(ctx, { runtime: rt, network: 'none', dockerfile: { content: df } })
  expect(await output(img.id, 'stat -c "%n %u:%g %a" /copied /copied/d /copied/d/f; readlink /copied/link; cat /bound /cached')).toBe(
    '/copied 0:0 755\n/copied/d 0:0 755\n/copied/d/f 0:0 644\nd/f\n' + 'data\ndata\n1000:50 755\n1000:50 755\n1000:50 644\n' + 'data\n1000:50 755\n1000:50 644\n',
  )
})

test("from= a stage's directory only another id may read or search: COPY --from, a bind and a cache seed read it through the keeper, owners and modes as a root build gives them; a symlink planted there pointing out reads nothing of the host", async () => {
  const ctx = fs.mkdtempSync(path.join(work, 'ctx-'))
  // A host file the stage's symlinks name (absolute, and climbing above /): never what a COPY or bind reads.
  const hostFile = path.join(work, 'host-secret')
  fs.writeFileSync(hostFile, 'HOST\n')
  const stage = `FROM bb AS src\nRUN ${makeHidden} && ln -s ${hostFile} /out/d/abs && ln -s ../../../../../.. /out/d/up && mkdir /out/d/sub && echo s > /out/d/sub/s && chown -R 1000:50 /out/d/sub && chmod 0700 /out/d/sub\nFROM bb\n`
  const df = [
    'COPY --from=src /out /copied',
    'RUN --mount=type=bind,from=src,source=/out,target=/m cat /m/d/f /m/d/sub/s > /bound && stat -c "%u:%g %a" /m/d /m/d/f /m/d/sub >> /bound',
    'RUN --mount=type=cache,target=/c,from=src,source=/out/d cat /c/f > /cached && stat -c "%u:%g %a" /c /c/f >> /cached',
    '',
  ].join('\n')
  const img = await Image.build(ctx, { runtime: rt, network: 'none', dockerfile: { content: `${stage}${df}` } })
  expect(await output(img.id, 'stat -c "%n %u:%g %a" /copied /copied/d /copied/d/f /copied/d/sub /copied/d/sub/s; readlink /copied/d/abs; readlink /copied/d/up; cat /copied/d/f /copied/d/sub/s /bound /cached')).toBe(
    '/copied 0:0 755\n/copied/d 0:0 700\n/copied/d/f 0:0 640\n/copied/d/sub 0:0 700\n/copied/d/sub/s 0:0 644\n' +
      `${hostFile}\n../../../../../..\n` +
      'data\ns\n' +
      'data\ns\n1000:50 700\n1000:50 640\n1000:50 700\n' +
      'data\n1000:50 700\n1000:50 640\n',
  )
  // Through the planted links: resolved inside the stage's root, where the host's file is not.
  for (const step of [`COPY --from=src /out/d/abs /x`, `COPY --from=src /out/d/up${hostFile} /x`, `RUN --mount=type=bind,from=src,source=/out/d/up${hostFile},target=/m cat /m`]) {
    await expect(Image.build(ctx, { runtime: rt, network: 'none', dockerfile: { content: `${stage}${step}\n` } })).rejects.toMatchObject({ code: 'ENOTFOUND' })
  }
})

test('COPY --from of a tree of 1,000 files only another id may read copies every file, as the same tree readable by all (timings logged, not asserted)', async () => {
  const ctx = fs.mkdtempSync(path.join(work, 'ctx-'))
  const make = (dir: string, mode: string) => `mkdir -p ${dir} && cd ${dir} && for i in $(seq 1000); do echo $i > f$i; done && chown -R 1000:50 ${dir} && chmod -R ${mode} ${dir}`
  const stage = `FROM bb AS src\nRUN ${make('/hidden', 'go-rwx')} && ${make('/open', 'go+rX')}\nFROM bb\n`
  await Image.build(ctx, { runtime: rt, network: 'none', dockerfile: { content: `${stage}COPY --from=src /open /warm\n` } })
  const times: Record<string, number[]> = { hidden: [], open: [] }
  // Interleaved rounds (the machine is shared): a new destination each time, so only the COPY runs. The
  // times are printed for whoever reads the log; speed is the bench's to judge, never a test's.
  for (let round = 0; round < 3; round++) {
    for (const which of ['hidden', 'open']) {
      const t0 = process.hrtime.bigint()
      const img = await Image.build(ctx, { runtime: rt, network: 'none', dockerfile: { content: `${stage}COPY --from=src /${which} /${which}-${round}\n` } })
      times[which].push(Number(process.hrtime.bigint() - t0) / 1e6)
      if (round === 0) expect(await output(img.id, `ls /${which}-0 | wc -l; cat /${which}-0/f1000; stat -c "%u:%g %a" /${which}-0/f1`)).toBe(`1000\n1000\n0:0 ${which === 'hidden' ? '600' : '644'}\n`)
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  console.log(`COPY --from of 1,000 files: only another id may read ${median(times.hidden).toFixed(0)} ms, readable by all ${median(times.open).toFixed(0)} ms (medians of 3, interleaved; load ${os.loadavg()[0].toFixed(1)})`)
})

test("COPY --from a stage FROM Image.fromHost()'s image (read through its container, which binds the host's /usr) reads a directory only another id may read or search through the keeper, owners and modes as a root build gives them; the host's bound files are read too; a symlink there pointing out reads nothing of the host; a host directory the user may not read is EUNSUPPORTED saying only root reads it", async () => {
  const host = await Image.fromHost({ runtime: rt, ref: 'host-for-rl-build:1' })
  const ctx = fs.mkdtempSync(path.join(work, 'ctx-'))
  const hostFile = path.join(work, 'host-secret')
  fs.writeFileSync(hostFile, 'HOST\n')
  const stage = `FROM host-for-rl-build:1 AS src\nRUN ${makeHidden} && ln -s ../../../../../.. /out/d/up\nFROM bb\n`
  try {
    const df = `${stage}COPY --from=src /out /copied\nCOPY --from=src /usr/bin/env /env\n`
    const img = await Image.build(ctx, { runtime: rt, network: 'none', dockerfile: { content: df } })
    const envSum = createHash('md5').update(fs.readFileSync('/usr/bin/env')).digest('hex')
    expect(await output(img.id, 'stat -c "%n %u:%g %a" /copied /copied/d /copied/d/f; cat /copied/d/f; md5sum /env')).toBe(
      `/copied 0:0 755\n/copied/d 0:0 700\n/copied/d/f 0:0 640\ndata\n${envSum}  /env\n`,
    )
    // Through the planted link: resolved inside the stage's root, where the host's file is not.
    await expect(Image.build(ctx, { runtime: rt, network: 'none', dockerfile: { content: `${stage}COPY --from=src /out/d/up${hostFile} /x\n` } })).rejects.toMatchObject({ code: 'ENOTFOUND' })
    // A host directory under the bound /usr that the user may not read: its owner is no id of the keeper's namespace, so only root reads it.
    const hostPrivate = hostDirUnreadable()
    await expect(Image.build(ctx, { runtime: rt, network: 'none', dockerfile: { content: `${stage}COPY --from=src ${hostPrivate} /x\n` } })).rejects.toMatchObject({
      code: 'EUNSUPPORTED',
      message: expect.stringMatching(/^COPY --from=src: .*a file of the host's own that your user may not read.*EACCES.*build with a root runtime$/),
    })
    // The same directory copied for a writable bind (or a cache seed): the copy is made as the user, refused alike.
    await expect(Image.build(ctx, { runtime: rt, network: 'none', dockerfile: { content: `${stage}RUN --mount=type=bind,from=src,source=${hostPrivate},target=/m,rw true\n` } })).rejects.toMatchObject({
      code: 'EUNSUPPORTED',
      message: expect.stringMatching(/^RUN --mount=type=bind,from=src: .*a file of the host's own that your user may not read.*EACCES.*build with a root runtime$/),
    })
  } finally {
    await host.remove({ force: true })
  }
})

/** A directory under the host's /usr that this user may not read (0700 of a system user); the test needs one. */
function hostDirUnreadable(): string {
  const candidates = ['/usr/share/polkit-1/rules.d', '/usr/lib/mysql/plugin/auth_pam_tool_dir', '/usr/share/mc-test-private']
  const found = candidates.find((d) => fs.existsSync(d) && !readable(d))
  if (!found) throw new Error(`no directory under /usr this user may not read (${candidates.join(', ')}): make one as root, e.g. install -d -m 0700 /usr/share/mc-test-private`)
  return found
}

function readable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.R_OK)
    return true
  } catch {
    return false
  }
}
