// Loading a device program while signals keep arriving (a burst of exits is a burst of SIGCHLD): the
// verifier gives up with EAGAIN whenever a signal is pending, and a start must not fail for that.
import { spawn } from 'node:child_process'
import { deviceProgram } from '../../lib/cgroups/device-program'
import { dockerDefaultDeviceRules } from '../../lib/cgroups/device-rules'
import { loadDeviceProgram } from '../../lib/sys/bpf'
import { closeQuietly } from '../../lib/sys/libc'

test('a device program loads while SIGCHLD keeps interrupting the verifier (EAGAIN tried again)', async () => {
  // A peer sending this process SIGCHLD as fast as it can: Node handles SIGCHLD once it has a child
  // (this one), so each stays pending until Node runs, as a burst of container exits does.
  const storm = spawn('sh', ['-c', `while kill -CHLD ${process.pid}; do :; done`], { stdio: 'ignore' })
  try {
    await new Promise((r) => setTimeout(r, 200))
    const insns = deviceProgram(dockerDefaultDeviceRules)
    for (let i = 0; i < 300; i++) {
      closeQuietly(loadDeviceProgram(insns, 'MIT'))
      if (i % 20 === 0) await new Promise((r) => setImmediate(r))
    }
  } finally {
    storm.kill('SIGKILL')
    await new Promise((r) => storm.once('exit', r))
  }
})
