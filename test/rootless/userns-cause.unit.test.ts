/** The probe's output and the cause read from it, for the causes this host cannot show (AppArmor, Debian's switch, nesting). */
import { parseProbe } from '../../lib/rootless/userns-probe'
import { userNamespaceError, usernsBlocked, usernsCause } from '../../lib/rootless/userns-cause'
import { parseSubidFile } from '../../lib/rootless/subids'

test('probe lines: every step passed; a failure stops at its step; a probe that died says so', () => {
  expect(parseProbe('userns 0\nidmap 0\nmountns 0\nmount 0\noverlay 0\nwhiteout 0\n')).toEqual({ passed: ['userns', 'idmap', 'mountns', 'mount', 'overlay', 'whiteout'] })
  expect(parseProbe('userns 0\nidmap 0\nmountns 0\nmount 13\n')).toEqual({ passed: ['userns', 'idmap', 'mountns'], failedStep: 'mount', errno: 'EACCES' })
  expect(parseProbe('userns 0\n')).toMatchObject({ failedStep: 'idmap', errno: expect.stringContaining('no answer') })
})

test('causes, most specific first; an overlay failure is no namespace block', () => {
  const eperm = parseProbe('userns 1\n')
  expect(usernsCause(parseProbe('userns 28\n'), { seccompMode: 2 })).toBe('max_user_namespaces')
  expect(usernsCause(parseProbe('userns 87\n'), {})).toBe('nesting')
  expect(usernsCause(eperm, { apparmorRestrict: 1, seccompMode: 2 })).toBe('apparmor')
  expect(usernsCause(parseProbe('userns 0\nidmap 0\nmountns 0\nmount 13\n'), { apparmorRestrict: 1 })).toBe('apparmor')
  expect(usernsCause(eperm, { seccompMode: 2 })).toBe('seccomp')
  expect(usernsCause(eperm, { seccompMode: 0, apparmorRestrict: 0 })).toBe('unknown')
  expect(usernsBlocked(parseProbe('userns 0\nidmap 0\nmountns 0\nmount 0\noverlay 22\n'))).toBe(false)
})

test('EUSERNS names the cause and its one fix', () => {
  const err = userNamespaceError(parseProbe('userns 0\nidmap 0\nmountns 0\nmount 13\n'), { apparmorRestrict: 1 })
  expect(err.code).toBe('EUSERNS')
  expect(err.message).toContain('AppArmor restricts unprivileged user namespaces')
  expect(err.message).toContain('sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0')
  expect(err.message).toMatch(/profile minicontainer-shim \/\S+\/mc-shim flags=\(unconfined\) \{ userns, \}/)
  expect(userNamespaceError(parseProbe('userns 1\n'), { seccompMode: 2 }).message).toContain('--security-opt seccomp=unconfined --security-opt systempaths=unconfined')
})

test('subuid file lines by name or uid; malformed lines are skipped', () => {
  const text = 'alice:100000:65536\n1001:165536:65536\nbob:x:1\nalice:300000:10\n'
  expect(parseSubidFile(text, 'alice', 1000)).toEqual([{ start: 100000, count: 65536 }, { start: 300000, count: 10 }])
  expect(parseSubidFile(text, 'carol', 1001)).toEqual([{ start: 165536, count: 65536 }])
  expect(parseSubidFile(text, 'bob', 1002)).toEqual([])
})
