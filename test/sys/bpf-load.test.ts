// Loading a device program while signals keep arriving (a burst of exits is a burst of SIGCHLD): the
// verifier gives up with EAGAIN whenever a signal is pending, and a start must not fail for that.
import { spawn } from 'node:child_process'
import { deviceProgram } from '../../lib/cgroups/device-program'
import { dockerDefaultDeviceRules } from '../../lib/cgroups/device-rules'
import { loadDeviceProgram } from '../../lib/sys/bpf'
import { closeQuietly } from '../../lib/sys/libc'

test('a device program loads while SIGCHLD keeps interrupting the verifier (EAGAIN tried again)', async () => {
  // A peer sending this process a SIGCHLD about every millisecond, as a burst of container exits does
  // (Node handles SIGCHLD once it has a child: this one). Not a signal back to back without a pause:
  // on a quiet machine such a storm keeps one pending through every verifier run, which no real
  // burst does and no number of tries outlasts.
  const storm = spawn('sh', ['-c', `while kill -CHLD ${process.pid}; do sleep 0.001; done`], { stdio: 'ignore' })
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
