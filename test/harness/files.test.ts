/**
 * `files` at create: content and host files with mode and owner, present
 * before the program starts; bad specs are EINVALID and leave nothing.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Container, run, type Runtime } from '../../lib'
import { useRuntime } from '../helpers'

// Importing the host and busybox images hashes every file: slow on a loaded machine.
jest.setTimeout(180_000)

let runtime: Runtime
useRuntime((rt) => (runtime = rt), { busybox: true })

test('files exist with their mode and owner before the program starts', async () => {
  const host = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-files-'))
  try {
    fs.writeFileSync(path.join(host, 'seed.sql'), 'create table t;\n', { mode: 0o640 })
    fs.mkdirSync(path.join(host, 'conf.d'))
    fs.writeFileSync(path.join(host, 'conf.d', 'a.conf'), 'a=1\n')
    await using c = await run('bb', ['sh', '-c', 'stat -c "%a %u:%g %n" /etc/app/app.conf /docker/seed.sql; cat /etc/app/app.conf; cat /etc/conf.d/a.conf'], {
      runtime, network: 'none',
      files: [
        { target: '/etc/app/app.conf', content: 'port=1\n', mode: 0o600, uid: 1000, gid: 50 },
        { target: '/docker/seed.sql', source: path.join(host, 'seed.sql') },
        { target: '/etc/conf.d', source: path.join(host, 'conf.d') },
      ],
    })
    await c.wait()
    const out: string[] = []
    for await (const chunk of c.logs()) out.push(chunk.toString())
    expect(out.join('')).toBe('600 1000:50 /etc/app/app.conf\n640 0:0 /docker/seed.sql\nport=1\na=1\n')
  } finally {
    fs.rmSync(host, { recursive: true, force: true })
  }
})

test('bad file specs are EINVALID and create nothing', async () => {
  const before = (await Container.list({ runtime, all: true })).length
  await expect(run('bb', ['true'], { runtime, files: [{ target: 'relative', content: 'x' }] })).rejects.toMatchObject({ code: 'EINVALID' })
  await expect(run('bb', ['true'], { runtime, files: [{ target: '/a', content: 'x', source: '/etc/hosts' }] })).rejects.toMatchObject({ code: 'EINVALID' })
  await expect(run('bb', ['true'], { runtime, files: [{ target: '/a', source: '/nonexistent/file' }] })).rejects.toThrow()
  expect((await Container.list({ runtime, all: true })).length).toBe(before)
})
