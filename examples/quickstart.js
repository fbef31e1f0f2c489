// Quickstart: run a program from the host in an isolated container, read its output, clean up.
// Run with `npm run example` (as root).
'use strict'
const { run, Image, Runtime } = require('minicontainer')

async function main() {
  // A private runtime root keeps the example from touching /var/lib/minicontainer.
  const runtime = new Runtime({ root: '/tmp/minicontainer-quickstart' })
  // The host's /usr, read-only, as an image: no download needed.
  await Image.fromHost({ runtime, ref: 'host' })

  const c = await run('host', ['sh', '-c', 'echo "hello from $(hostname), I am PID $$"; ls /proc | grep -c "^[0-9]"'], {
    runtime,
    hostname: 'quickstart',
  })
  const { exitCode } = await c.wait()
  for await (const chunk of c.logs()) process.stdout.write(chunk)
  console.log(`exit code ${exitCode}`)

  // A long-running container, and a command run inside it.
  const svc = await run('host', ['sleep', '60'], { runtime, name: 'sleeper', init: true })
  const { stdout } = await svc.exec(['sh', '-c', 'ps -o pid,comm'])
  console.log(`processes inside "sleeper":\n${stdout}`)
  await svc.stop({ timeout: 1 })

  await c.remove()
  await svc.remove()
  await runtime.close() // the default bridge would otherwise stay, like docker0
  console.log('cleaned up')
}

main().catch((err) => {
  console.error(`${err.code ?? ''} ${err.message}`)
  process.exit(1)
})
