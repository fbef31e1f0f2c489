/**
 * When a container with a cpuset may be cloned straight into its cgroup: from Linux 6.3, and before
 * it where the fix was backported (its function in the kernel's symbol list), else not.
 */
import { cloneIntoAppliesCpuset } from '../../lib/cgroups/cpuset-fork'

const listing = (...names: string[]) => names.map((n, i) => `ffffffff8146${i}780 t ${n}`).join('\n') + '\n'

test('from 6.3 on, the release decides, with no symbol list', () => {
  for (const release of ['6.3.0', '6.18.44-fc-v1300', '7.0.1']) expect(cloneIntoAppliesCpuset(release, undefined)).toBe(true)
})

test('below 6.3, a backport is found by the function the fix added', () => {
  expect(cloneIntoAppliesCpuset('6.1.0-28-amd64', listing('cpuset_fork', 'cpuset_attach_task', 'cpuset_can_fork'))).toBe(true)
  expect(cloneIntoAppliesCpuset('6.1.0-28-amd64', listing('cpuset_attach_task.isra.0'))).toBe(true)
  expect(cloneIntoAppliesCpuset('5.10.0-33-amd64', listing('cpuset_fork', 'cpuset_attach'))).toBe(false)
  expect(cloneIntoAppliesCpuset('5.10.0-33-amd64', listing('cpuset_attach_tasks', 'my_cpuset_attach_task'))).toBe(false)
})

test('below 6.3 without a symbol list (not read yet, or none), the pid is written: slower, never wrong', () => {
  expect(cloneIntoAppliesCpuset('5.15.0', undefined)).toBe(false)
})
