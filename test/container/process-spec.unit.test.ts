// Who a container's process runs as and with what environment, as Docker decides it
// (moby/sys/user GetExecUser, the container's env merge), against small layer dirs of plain
// files in a temp dir: no root, no container.
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { envList, mergeEnv, processSpec, resolveUser } from '../../lib/container/process-spec'

let tmp: string
let counter = 0
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-unit-procspec-'))
})
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }))

/** A layer dir holding `files` (path -> content). */
function layer(files: Record<string, string>): string {
  const dir = path.join(tmp, `layer-${++counter}`)
  for (const [file, content] of Object.entries(files)) {
    fs.mkdirSync(path.join(dir, path.dirname(file)), { recursive: true })
    fs.writeFileSync(path.join(dir, file), content)
  }
  fs.mkdirSync(dir, { recursive: true })
  return dir
}

const passwd = [
  '# a comment line is no user',
  'root:x:0:0:root:/root:/bin/sh',
  'app:x:1000:1000:app:/home/app:/bin/sh',
  'web:x:33:33:www:/var/www:/usr/sbin/nologin',
  'nohome:x:1200:1200:::/bin/sh',
].join('\n') + '\n'
const group = ['root:x:0:', 'app:x:1000:', 'web:x:33:', 'staff:x:50:app,web', 'audio:x:29:app', 'docker:x:999:'].join('\n') + '\n'

function invalid(fn: () => unknown, text: RegExp): void {
  expect(fn).toThrow(expect.objectContaining({ code: 'EINVALID', message: expect.stringMatching(text) }))
}

describe('envList', () => {
  test('an object becomes NAME=value entries in its order; a list is kept as given', () => {
    expect(envList({ A: '1', B: 'x=y', EMPTY: '' })).toEqual(['A=1', 'B=x=y', 'EMPTY='])
    expect(envList(['A=1', 'B=', 'C=a=b'])).toEqual(['A=1', 'B=', 'C=a=b'])
    expect(envList(undefined)).toEqual([])
  })
  test('entries without a name or "=", with NUL, and object names with "=" are EINVALID', () => {
    invalid(() => envList(['NOVALUE']), /NAME=value/)
    invalid(() => envList(['=x']), /NAME=value/)
    invalid(() => envList(['A=x\0y']), /NAME=value/)
    invalid(() => envList({ 'A=B': 'x' }), /name/)
    invalid(() => envList({ '': 'x' }), /name/)
  })
})

describe('mergeEnv', () => {
  test('a later entry replaces an earlier one of the same name, in the place the name was first seen', () => {
    expect(mergeEnv(['PATH=/bin', 'A=1', 'B=2'], ['B=3', 'C=4'], ['A=5'])).toEqual(['PATH=/bin', 'A=5', 'B=3', 'C=4'])
  })
  test('names are compared whole: A and AB are different variables; the value may hold "="', () => {
    expect(mergeEnv(['A=1', 'AB=2'], ['A=x=y'])).toEqual(['A=x=y', 'AB=2'])
  })
})

describe('resolveUser', () => {
  let db: string
  beforeAll(() => {
    db = layer({ 'etc/passwd': passwd, 'etc/group': group })
  })

  test('root ("", "root", "0") is uid 0, gid 0, home /root, with the groups listing gid 0', () => {
    for (const u of ['', 'root', '0']) expect(resolveUser(u, [db])).toEqual({ uid: 0, gid: 0, additionalGids: [0], home: '/root' })
  })
  test('a name: uid, gid and home from /etc/passwd; supplementary groups are its primary group and the groups listing it', () => {
    expect(resolveUser('app', [db])).toEqual({ uid: 1000, gid: 1000, additionalGids: [1000, 50, 29], home: '/home/app' })
    expect(resolveUser('web', [db])).toEqual({ uid: 33, gid: 33, additionalGids: [33, 50], home: '/var/www' })
  })
  test("a uid of /etc/passwd takes that entry's gid and home", () => {
    expect(resolveUser('1000', [db])).toMatchObject({ uid: 1000, gid: 1000, home: '/home/app' })
  })
  test('a uid unknown to /etc/passwd runs with gid 0 and home /', () => {
    expect(resolveUser('4242', [db])).toEqual({ uid: 4242, gid: 0, additionalGids: [0], home: '/' })
  })
  test('an empty home field in /etc/passwd is /', () => {
    expect(resolveUser('nohome', [db]).home).toBe('/')
  })
  test('user:group: the group by name or gid, and only that group (no memberships of the user)', () => {
    expect(resolveUser('app:staff', [db])).toEqual({ uid: 1000, gid: 50, additionalGids: [50], home: '/home/app' })
    expect(resolveUser('app:777', [db])).toEqual({ uid: 1000, gid: 777, additionalGids: [], home: '/home/app' })
    expect(resolveUser('4242:33', [db])).toMatchObject({ uid: 4242, gid: 33, additionalGids: [33] })
  })
  test('groupAdd adds groups by name or gid, once each', () => {
    expect(resolveUser('web', [db], ['docker', '12345', 'staff']).additionalGids).toEqual([33, 50, 999, 12345])
  })
  test('an unknown user, group or groupAdd name is EINVALID saying what to use', () => {
    invalid(() => resolveUser('ghost', [db]), /unable to find user ghost.*numeric uid/)
    invalid(() => resolveUser('app:ghosts', [db]), /unable to find group ghosts/)
    invalid(() => resolveUser('app', [db], ['ghosts']), /unable to find group ghosts/)
  })
  test("ids outside Docker's range are EINVALID, given or read from the image", () => {
    invalid(() => resolveUser('4294967296', [db]), /uid/)
    invalid(() => resolveUser('0:4294967296', [db]), /gid/)
    const big = layer({ 'etc/passwd': 'big:x:99999999999:0::/:/bin/sh\n' })
    invalid(() => resolveUser('big', [big]), /passwd/)
  })
  test('without /etc/passwd a name is EINVALID and a uid still works', () => {
    const empty = layer({})
    invalid(() => resolveUser('app', [empty]), /unable to find user app/)
    expect(resolveUser('1000', [empty])).toEqual({ uid: 1000, gid: 0, additionalGids: [], home: '/' })
  })

  test('layers are read top first: the upper layer’s /etc/passwd hides the lower one’s; a file only below is found', () => {
    const lower = layer({ 'etc/passwd': passwd, 'etc/group': group })
    const upper = layer({ 'etc/passwd': 'app:x:2000:2000::/u:/bin/sh\n' })
    expect(resolveUser('app', [upper, lower])).toEqual({ uid: 2000, gid: 2000, additionalGids: [50, 29], home: '/u' })
  })

  test('the writable (first) layer is read at every call: a user added to it later is found, over the read-only layers read before', () => {
    const lower = layer({ 'etc/passwd': passwd, 'etc/group': group })
    const upper = layer({})
    expect(resolveUser('app', [upper, lower])).toMatchObject({ uid: 1000, home: '/home/app' })
    invalid(() => resolveUser('late', [upper, lower]), /unable to find user late/)
    fs.mkdirSync(path.join(upper, 'etc'))
    fs.writeFileSync(path.join(upper, 'etc/passwd'), 'late:x:3000:3000::/late:/bin/sh\n')
    expect(resolveUser('late', [upper, lower])).toEqual({ uid: 3000, gid: 3000, additionalGids: [], home: '/late' })
    // Its /etc/group is still the lower layer's.
    expect(resolveUser('app', [layer({}), lower])).toEqual({ uid: 1000, gid: 1000, additionalGids: [1000, 50, 29], home: '/home/app' })
  })

  test("a symlinked /etc/passwd resolves inside the layer, never to the host's file it names", () => {
    const outside = path.join(tmp, `host-passwd-${++counter}`)
    fs.writeFileSync(outside, 'intruder:x:0:0::/root:/bin/sh\n')
    const evil = layer({})
    fs.mkdirSync(path.join(evil, 'etc'))
    fs.symlinkSync(outside, path.join(evil, 'etc/passwd'))
    invalid(() => resolveUser('intruder', [evil]), /unable to find user intruder/)
    // The same link resolved within the layer finds the layer's own copy.
    fs.mkdirSync(path.join(evil, path.dirname(outside)), { recursive: true })
    fs.writeFileSync(path.join(evil, outside), 'inside:x:7:7::/in:/bin/sh\n')
    expect(resolveUser('inside', [evil])).toMatchObject({ uid: 7, gid: 7, home: '/in' })
  })
})

describe('processSpec', () => {
  let db: string
  beforeAll(() => {
    db = layer({ 'etc/passwd': passwd, 'etc/group': group })
  })
  const base = { args: ['/bin/app'], imageEnv: [], env: [], cwd: '/', user: '', layers: [] as string[], capabilities: 5n }

  test("Docker's environment: PATH, HOSTNAME, the image's, the container's; HOME from the user's entry", () => {
    const p = processSpec({ ...base, layers: [db], user: 'app', hostname: 'h1', imageEnv: ['LANG=C', 'PATH=/opt/bin'], env: ['LANG=C.UTF-8', 'X=1'] })
    expect(p.env).toEqual(['PATH=/opt/bin', 'HOSTNAME=h1', 'LANG=C.UTF-8', 'X=1', 'HOME=/home/app'])
  })
  test('a HOME given in the environment is kept', () => {
    expect(processSpec({ ...base, layers: [db], user: 'app', env: ['HOME=/data'] }).env).toEqual([
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/data',
    ])
  })
  test("identity, capabilities and arguments as resolved; cwd '' is /; no_new_privs off; rlimits only when some", () => {
    const p = processSpec({ ...base, layers: [db], user: 'web', cwd: '' })
    expect(p).toEqual({ args: ['/bin/app'], env: expect.any(Array), cwd: '/', uid: 33, gid: 33, additionalGids: [33, 50], capabilities: 5n, noNewPrivileges: false })
    const limited = processSpec({ ...base, layers: [db], rlimits: [{ resource: 7, soft: 64, hard: 128 }] })
    expect(limited.rlimits).toEqual([{ resource: 7, soft: 64, hard: 128 }])
    expect(processSpec({ ...base, layers: [db], rlimits: [] })).not.toHaveProperty('rlimits')
  })
})
